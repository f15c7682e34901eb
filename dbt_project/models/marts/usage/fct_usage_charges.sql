{{ config(materialized='table', tags=['usage_daily'], order_by=['workspace_id', 'subscription_item_id']) }}

-- A table, not a view: the API serves it (`/v1/usage/charges`), and a page reads stored rows.

-- What each metered subscription item should bill per period: the usage of the meter its price
-- names (price metadata `meter`) × the price, per unit or tiered (graduated or volume), in integer
-- minor units. Quantities are whole units, as Stripe bills them.

with

metered_items as (

    select
        items.workspace_id as workspace_id,
        items.subscription_item_id as subscription_item_id,
        items.subscription_id as subscription_id,
        items.price_id as price_id,
        prices.currency as currency,
        JSONExtractString(ifNull(prices.metadata, '{}'), 'meter') as meter_slug,
        prices.billing_scheme as billing_scheme,
        prices.tiers_mode as tiers_mode,
        ifNull(prices.unit_amount, 0) as unit_amount,
        JSONExtractArrayRaw(ifNull(prices.tiers, '[]')) as tier_objects,
        arrayMap(tier -> JSONExtract(tier, 'up_to', 'Nullable(Int64)'), tier_objects) as tier_up_to,
        arrayMap(tier -> ifNull(JSONExtract(tier, 'unit_amount', 'Nullable(Int64)'), 0), tier_objects)
            as tier_unit_amount,
        arrayMap(tier -> ifNull(JSONExtract(tier, 'flat_amount', 'Nullable(Int64)'), 0), tier_objects)
            as tier_flat_amount
    from {{ ref('stg_stripe__subscription_items') }} as items
    inner join {{ ref('stg_stripe__prices') }} as prices
        on prices.workspace_id = items.workspace_id and prices.price_id = items.price_id
    where prices.recurring_usage_type = 'metered'

),

periods as (

    select * from {{ ref('int_usage__billing_periods') }}

),

usage as (

    select * from {{ ref('fct_usage_by_billing_period') }}

),

quantities as (

    select
        metered_items.workspace_id as workspace_id,
        metered_items.subscription_item_id as subscription_item_id,
        metered_items.subscription_id as subscription_id,
        metered_items.price_id as price_id,
        metered_items.currency as currency,
        metered_items.meter_slug as meter_slug,
        metered_items.billing_scheme as billing_scheme,
        metered_items.tiers_mode as tiers_mode,
        metered_items.unit_amount as unit_amount,
        metered_items.tier_up_to as tier_up_to,
        metered_items.tier_unit_amount as tier_unit_amount,
        metered_items.tier_flat_amount as tier_flat_amount,
        periods.customer_id as customer_id,
        periods.period_start_at as period_start_at,
        periods.period_end_at as period_end_at,
        toInt64(ifNull(usage.usage_quantity, 0)) as quantity
    from metered_items
    inner join periods
        on periods.workspace_id = metered_items.workspace_id
        and periods.subscription_id = metered_items.subscription_id
    left join usage
        on usage.workspace_id = metered_items.workspace_id
        and usage.subscription_id = metered_items.subscription_id
        and usage.period_start_at = periods.period_start_at
        and usage.meter_slug = metered_items.meter_slug

),

rated as (

    select
        *,
        multiIf(
            billing_scheme = 'tiered' and tiers_mode = 'graduated',
            arraySum(
                tier -> if(
                    quantity > if(tier = 1, 0, ifNull(tier_up_to[tier - 1], 0)),
                    (least(quantity, ifNull(tier_up_to[tier], quantity)) - if(tier = 1, 0, ifNull(tier_up_to[tier - 1], 0)))
                        * tier_unit_amount[tier] + tier_flat_amount[tier],
                    0
                ),
                arrayEnumerate(tier_up_to)
            ),
            billing_scheme = 'tiered',
            -- volume: every unit at the price of the tier the total falls in
            quantity * tier_unit_amount[arrayFirstIndex(up_to -> isNull(up_to) or quantity <= up_to, tier_up_to)]
                + tier_flat_amount[arrayFirstIndex(up_to -> isNull(up_to) or quantity <= up_to, tier_up_to)],
            quantity * unit_amount
        ) as amount
    from quantities

),

final as (

    select
        workspace_id,
        subscription_item_id,
        subscription_id,
        customer_id,
        price_id,
        meter_slug,
        period_start_at,
        period_end_at,
        quantity,
        toInt64(amount) as amount,
        currency
    from rated

)

select * from final
