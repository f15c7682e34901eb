{{ config(order_by=['workspace_id', 'subscription_item_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'subscription_items')) }}

),

-- Only the items of each subscription's latest fetch: items removed since then must disappear.
current_items as (

    {{ stripe_items_of_latest_parent('source', source('stripe', 'subscriptions'), 'subscription') }}

),

deduplicated as (

    {{ deduplicate_latest('current_items') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as subscription_item_id,
        subscription as subscription_id,
        {{ json_extract('price', 'id') }} as price_id,
        {{ json_extract_id('price', 'product') }} as product_id,

        ---------- strings
        -- The item's price as embedded at fetch time, so revenue models need no join to prices
        -- (inline `price_data` prices are not always listed by /v1/prices).
        {{ json_extract('price', 'recurring.interval') }} as recurring_interval,
        {{ json_extract('price', 'recurring.usage_type') }} as recurring_usage_type,
        {{ normalize_currency(json_extract('price', 'currency')) }} as currency,
        metadata,

        ---------- numerics
        quantity,
        {{ json_extract('price', 'recurring.interval_count', 'Int64') }} as recurring_interval_count,
        {{ json_extract('price', 'unit_amount', 'Int64') }} as unit_amount,
        {{ minor_to_major(json_extract('price', 'unit_amount', 'Int64'), json_extract('price', 'currency')) }}
            as unit_amount_major,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('current_period_start') }} as current_period_start_at,
        {{ epoch_to_timestamp('current_period_end') }} as current_period_end_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
