{{ config(order_by=['workspace_id', 'mrr_date', 'customer_id', 'product_id', 'currency']) }}

-- Monthly recurring revenue at the end of each day, per customer and plan (product), read from
-- Stripe's invoiced subscription lines: a line's recurring fee counts from its service period's start
-- to its end (or the subscription's end, if earlier); a later line of the same subscription item (a
-- proration after an upgrade, a renewal) takes over from its own start. A change Stripe has not
-- invoiced yet (prorations wait for the next renewal) counts from the subscription's last change, at
-- the item's current price and quantity. Fees are normalized to a month (a yearly fee counts a
-- twelfth) and converted to the workspace's reporting currency, its Stripe settlement currency, at one
-- rate per currency: the latest rate Stripe settled a charge at. Trials (zero lines), voided
-- invoices, usage-based (metered) fees and one-off items are no MRR.

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}
    where finalized_at is not null and status in ('open', 'paid', 'uncollectible')

),

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}

),

prices as (

    select * from {{ ref('stg_stripe__prices') }}

),

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

invoiced as (

    select
        lines.workspace_id as workspace_id,
        lines.subscription_id as subscription_id,
        lines.subscription_item_id as subscription_item_id,
        invoices.customer_id as customer_id,
        lines.product_id as product_id,
        lines.currency as currency,
        lines.period_start_at as starts_at,
        least(lines.period_end_at, ifNull(subscriptions.ended_at, lines.period_end_at)) as ends_at,
        -- Invoiced lines win over the current state from the same instant.
        (1, lines.invoice_line_id) as precedence,
        -- A proration bills part of a period: its monthly value is the price's; a full line's is
        -- what it bills, net of discounts and of the tax a tax-inclusive amount contains.
        {{ to_monthly_amount(
            "if(ifNull(lines.is_proration, false), prices.unit_amount * lines.quantity, "
                ~ "lines.amount - ifNull(lines.discount_amount, 0) - ifNull(lines.inclusive_tax_amount, 0))",
            'prices.recurring_interval',
            'prices.recurring_interval_count'
        ) }} as monthly_amount
    from {{ ref('stg_stripe__invoice_lines') }} as lines
    inner join invoices
        on lines.workspace_id = invoices.workspace_id
        and lines.invoice_id = invoices.invoice_id
    inner join prices
        on lines.workspace_id = prices.workspace_id
        and lines.price_id = prices.price_id
    left join subscriptions
        on lines.workspace_id = subscriptions.workspace_id
        and lines.subscription_id = subscriptions.subscription_id
    where lines.subscription_id is not null
        and lines.amount > 0
        and lines.period_start_at is not null
        and lines.period_end_at is not null
        and prices.recurring_interval is not null
        and ifNull(prices.recurring_usage_type, 'licensed') = 'licensed'

),

last_changes as (

    select workspace_id, object_id as subscription_id, max(created_at) as changed_at
    from {{ ref('stg_stripe__events') }}
    where event_type = 'customer.subscription.updated'
    group by workspace_id, subscription_id

),

current_items as (

    select
        items.workspace_id as workspace_id,
        items.subscription_id as subscription_id,
        items.subscription_item_id as subscription_item_id,
        subscriptions.customer_id as customer_id,
        items.product_id as product_id,
        items.currency as currency,
        greatest(items.current_period_start_at, ifNull(last_changes.changed_at, items.current_period_start_at))
            as starts_at,
        least(items.current_period_end_at, ifNull(subscriptions.ended_at, items.current_period_end_at)) as ends_at,
        (0, items.subscription_item_id) as precedence,
        {{ to_monthly_amount(
            'items.unit_amount * items.quantity', 'items.recurring_interval', 'items.recurring_interval_count'
        ) }} as monthly_amount
    from {{ ref('stg_stripe__subscription_items') }} as items
    inner join subscriptions
        on items.workspace_id = subscriptions.workspace_id
        and items.subscription_id = subscriptions.subscription_id
    left join last_changes
        on items.workspace_id = last_changes.workspace_id
        and items.subscription_id = last_changes.subscription_id
    where subscriptions.status in ('active', 'past_due')
        and items.unit_amount is not null
        and items.current_period_start_at is not null
        and items.current_period_end_at is not null
        and items.recurring_interval is not null
        and ifNull(items.recurring_usage_type, 'licensed') = 'licensed'

),

recurring_lines as (

    select * from invoiced
    union all
    select * from current_items

),

subscription_days as (

    select
        recurring_lines.workspace_id as workspace_id,
        recurring_lines.subscription_id as subscription_id,
        recurring_lines.subscription_item_id as subscription_item_id,
        addDays(
            toDate(recurring_lines.starts_at),
            arrayJoin(range(toUInt32(greatest(dateDiff('day', toDate(recurring_lines.starts_at), least(
                toDate(recurring_lines.ends_at), toDate(as_of.as_of_at) + 1
            )), 0))))
        ) as mrr_date,
        -- Per subscription item, the line that started last is the one in force.
        argMax(
            (recurring_lines.customer_id, recurring_lines.product_id, recurring_lines.currency,
                recurring_lines.monthly_amount),
            (recurring_lines.starts_at, recurring_lines.precedence)
        ) as in_force
    from recurring_lines
    inner join as_of on recurring_lines.workspace_id = as_of.workspace_id
    group by workspace_id, subscription_id, subscription_item_id, mrr_date

),

reporting_currency as (

    -- The currency the Stripe balance settles in (the most used, if an account has several).
    select workspace_id, topK(1)(currency)[1] as reporting_currency
    from balance_transactions
    group by workspace_id

),

fx_rates as (

    select
        balance_transactions.workspace_id as workspace_id,
        charges.currency as currency,
        argMax(balance_transactions.exchange_rate, balance_transactions.created_at) as fx_rate,
        max(balance_transactions.created_at) as fx_rate_at
    from balance_transactions
    inner join {{ ref('stg_stripe__charges') }} as charges
        on balance_transactions.workspace_id = charges.workspace_id
        and balance_transactions.source_id = charges.charge_id
    where balance_transactions.exchange_rate is not null
    group by workspace_id, currency

),

final as (

    select
        ifNull(subscription_days.workspace_id, '') as workspace_id,
        assumeNotNull(subscription_days.mrr_date) as mrr_date,
        ifNull(subscription_days.in_force.1, '') as customer_id,
        ifNull(subscription_days.in_force.2, '') as product_id,
        ifNull(subscription_days.in_force.3, '') as currency,
        uniqExact(subscription_days.subscription_id) as subscriptions,
        toInt64(round(sum(subscription_days.in_force.4))) as mrr_original,
        any(reporting_currency.reporting_currency) as reporting_currency,
        if(currency = reporting_currency, toDecimal128(1, 9), any(fx_rates.fx_rate)) as fx_rate,
        if(currency = reporting_currency, null, any(fx_rates.fx_rate_at)) as fx_rate_at,
        toInt64(round(sum(subscription_days.in_force.4) * fx_rate)) as mrr
    from subscription_days
    inner join reporting_currency on subscription_days.workspace_id = reporting_currency.workspace_id
    left join fx_rates
        on subscription_days.workspace_id = fx_rates.workspace_id
        and subscription_days.in_force.3 = fx_rates.currency
    group by workspace_id, mrr_date, customer_id, product_id, currency

)

select * from final
