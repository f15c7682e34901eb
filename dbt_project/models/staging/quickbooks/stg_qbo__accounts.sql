{{ config(order_by=['workspace_id', 'account_id']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'accounts')) }}

),

-- Latest version of each entity, its values from the last version before any deletion.
deduplicated as (

    {{ deduplicate_soft_deleted('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as account_id,

        ---------- strings
        acct_num as account_code,
        name as account_name,
        account_type,
        account_sub_type,
        lower(classification) as account_class,
        {{ normalize_currency(json_extract('currency_ref', 'value')) }} as currency,

        ---------- booleans
        active as is_active,
        is_deleted,

        ---------- timestamps
        parseDateTime64BestEffortOrNull({{ json_extract('meta_data', 'CreateTime') }}, 3, 'UTC') as created_at,
        parseDateTime64BestEffortOrNull({{ json_extract('meta_data', 'LastUpdatedTime') }}, 3, 'UTC') as updated_at,
        {{ qbo_deleted_at() }} as deleted_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
