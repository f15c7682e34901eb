{{ config(order_by=['workspace_id', 'event_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'events')) }}

),

-- Events never change, but an overlapping extraction window lands the same event twice.
deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as event_id,
        {{ json_extract('data', 'object.id') }} as object_id,
        {{ json_extract('request', 'id') }} as request_id,

        ---------- strings
        type as event_type,
        {{ json_extract('data', 'object.object') }} as object_type,
        api_version,
        {{ json_extract('request', 'idempotency_key') }} as idempotency_key,
        data as event_data,

        ---------- numerics
        pending_webhooks,

        ---------- booleans
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
