{{ config(order_by=['workspace_id', 'price_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'prices')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as price_id,
        product as product_id,

        ---------- strings
        nickname as price_nickname,
        lookup_key,
        type as price_type,
        billing_scheme,
        tiers_mode,
        tax_behavior,
        {{ json_extract('recurring', 'interval') }} as recurring_interval,
        {{ json_extract('recurring', 'usage_type') }} as recurring_usage_type,
        {{ json_extract('recurring', 'meter') }} as recurring_meter_id,
        {{ normalize_currency('currency') }} as currency,
        tiers,
        metadata,

        ---------- numerics
        {{ json_extract('recurring', 'interval_count', 'Int64') }} as recurring_interval_count,
        {{ json_extract('recurring', 'trial_period_days', 'Int64') }} as recurring_trial_period_days,
        unit_amount,
        {{ minor_to_major('unit_amount', 'currency') }} as unit_amount_major,
        -- Sub-minor-unit precision (up to 12 decimals) that `unit_amount` rounds away.
        toDecimal128OrNull(unit_amount_decimal, 12) as unit_amount_decimal,

        ---------- booleans
        active as is_active,
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
