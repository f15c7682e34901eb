{{ config(order_by=['workspace_id', 'item_id']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'items')) }}

),

-- Latest version of each entity, its values from the last version before any deletion.
deduplicated as (

    {{ deduplicate_soft_deleted('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as item_id,
        {{ json_extract('income_account_ref', 'value') }} as income_account_id,

        ---------- strings
        name as item_name,
        description,
        type as item_type,

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
