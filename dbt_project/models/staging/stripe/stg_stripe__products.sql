{{ config(order_by=['workspace_id', 'product_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'products')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as product_id,
        default_price as default_price_id,

        ---------- strings
        name as product_name,
        description,
        type as product_type,
        unit_label,
        metadata,

        ---------- booleans
        active as is_active,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('updated') }} as updated_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
