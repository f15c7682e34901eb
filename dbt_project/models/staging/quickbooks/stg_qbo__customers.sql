{{ config(order_by=['workspace_id', 'customer_id']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'customers')) }}

),

-- Latest version of each entity, its values from the last version before any deletion.
deduplicated as (

    {{ deduplicate_soft_deleted('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as customer_id,

        ---------- strings
        display_name as customer_name,
        {{ json_extract('primary_email_addr', 'Address') }} as email,
        {{ json_extract('bill_addr', 'Country') }} as address_country,
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
