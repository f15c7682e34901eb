{{ config(order_by=['workspace_id', 'coupon_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'coupons')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as coupon_id,

        ---------- strings
        name as coupon_name,
        duration,
        -- Only amount-off coupons have a currency: the one their amount is in.
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        percent_off,
        amount_off,
        {{ minor_to_major('amount_off', 'currency') }} as amount_off_major,
        duration_in_months,
        max_redemptions,
        times_redeemed,

        ---------- booleans
        valid as is_valid,
        -- A deleted coupon is fetched as Stripe's stub {id, object, deleted}.
        ifNull(deleted, false) as is_deleted,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('redeem_by') }} as redeem_by_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
