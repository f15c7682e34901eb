{{ config(order_by=['workspace_id', 'promotion_code_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'promotion_codes')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as promotion_code_id,
        -- In the pinned API version a promotion code names its coupon under `promotion`.
        {{ json_extract_id('promotion', 'coupon') }} as coupon_id,
        customer as customer_id,

        ---------- strings
        code,
        metadata,

        ---------- numerics
        max_redemptions,
        times_redeemed,
        {{ json_extract('restrictions', 'minimum_amount', 'Int64') }} as minimum_amount,

        ---------- booleans
        active as is_active,
        {{ json_extract('restrictions', 'first_time_transaction', 'Bool') }} as is_first_time_transaction,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('expires_at') }} as expires_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
