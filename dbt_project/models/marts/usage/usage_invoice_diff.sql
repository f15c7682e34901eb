{{ config(materialized='view', tags=['usage_daily']) }}

-- Usage charges as revops computes them against what Stripe invoiced, per metered subscription
-- item and period. Stripe bills a period's usage on the invoice that opens the next period, with
-- whatever usage had reached it by then; events arriving later show up here as a difference.
--   matched       Stripe billed exactly the computed quantity and amount
--   differs       Stripe billed the period, but not the same quantity or amount
--   not_invoiced  the period was over and billed no usage (the subscription moved on or ended)
--   open          the period's usage is not due for invoicing yet

with

charges as (

    select * from {{ ref('fct_usage_charges') }}

),

invoiced as (

    select
        lines.workspace_id as workspace_id,
        lines.subscription_item_id as subscription_item_id,
        lines.period_start_at as period_start_at,
        lines.period_end_at as period_end_at,
        any(lines.invoice_id) as invoice_id,
        -- ClickHouse fills unmatched LEFT JOIN columns with defaults, not NULL: this flag tells.
        1 as is_invoiced,
        sum(lines.quantity) as invoiced_quantity,
        sum(lines.amount) as invoiced_amount
    from {{ ref('stg_stripe__invoice_lines') }} as lines
    where (lines.workspace_id, lines.subscription_item_id) in (
        select workspace_id, subscription_item_id from charges
    )
    group by workspace_id, subscription_item_id, period_start_at, period_end_at

),

later_invoices as (

    select workspace_id, subscription_id, max(created_at) as last_invoice_at
    from {{ ref('stg_stripe__invoices') }}
    group by workspace_id, subscription_id

),

subscriptions as (

    select workspace_id, subscription_id, ended_at
    from {{ ref('stg_stripe__subscriptions') }}

),

compared as (

    select
        charges.workspace_id as workspace_id,
        charges.subscription_item_id as subscription_item_id,
        charges.subscription_id as subscription_id,
        charges.customer_id as customer_id,
        charges.meter_slug as meter_slug,
        charges.period_start_at as period_start_at,
        charges.period_end_at as period_end_at,
        charges.currency as currency,
        charges.quantity as computed_quantity,
        charges.amount as computed_amount,
        invoiced.invoice_id as invoice_id,
        invoiced.invoiced_quantity as invoiced_quantity,
        invoiced.invoiced_amount as invoiced_amount,
        invoiced.is_invoiced = 1 as is_invoiced,
        later_invoices.last_invoice_at >= charges.period_end_at
            or ifNull(subscriptions.ended_at <= charges.period_end_at, false) as is_due
    from charges
    left join invoiced
        on invoiced.workspace_id = charges.workspace_id
        and invoiced.subscription_item_id = charges.subscription_item_id
        and invoiced.period_start_at = charges.period_start_at
        and invoiced.period_end_at = charges.period_end_at
    left join later_invoices
        on later_invoices.workspace_id = charges.workspace_id
        and later_invoices.subscription_id = charges.subscription_id
    left join subscriptions
        on subscriptions.workspace_id = charges.workspace_id
        and subscriptions.subscription_id = charges.subscription_id

),

final as (

    select
        workspace_id,
        subscription_item_id,
        subscription_id,
        customer_id,
        meter_slug,
        period_start_at,
        period_end_at,
        currency,
        computed_quantity,
        computed_amount,
        invoice_id,
        if(is_invoiced, invoiced_quantity, null) as invoiced_quantity,
        if(is_invoiced, invoiced_amount, null) as invoiced_amount,
        computed_quantity - ifNull(invoiced_quantity, 0) as quantity_difference,
        computed_amount - ifNull(invoiced_amount, 0) as amount_difference,
        multiIf(
            is_invoiced and computed_quantity = invoiced_quantity and computed_amount = invoiced_amount, 'matched',
            is_invoiced, 'differs',
            is_due, 'not_invoiced',
            'open'
        ) as status
    from compared

)

select * from final
