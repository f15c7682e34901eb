{{ config(meta={'dagster': {'ref': {'name': 'fct_ledger_entries'}}}) }}

-- The ledger's Stripe balance equals the sum of Stripe's balance transactions' net, per workspace and
-- currency at the as-of instant: in total (available and pending), and for what is available.

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

ledger as (

    select
        workspace_id,
        currency,
        sumIf(debit - credit, account in ('stripe_balance', 'stripe_pending')) as total,
        sumIf(debit - credit, account = 'stripe_balance') as available
    from {{ ref('fct_ledger_entries') }}
    where account in ('stripe_balance', 'stripe_pending')
    group by workspace_id, currency

),

stripe as (

    select
        balance_transactions.workspace_id as workspace_id,
        balance_transactions.currency as currency,
        sum(balance_transactions.net) as total,
        sumIf(balance_transactions.net, balance_transactions.available_at <= as_of.as_of_at) as available
    from {{ ref('stg_stripe__balance_transactions') }} as balance_transactions
    inner join as_of on balance_transactions.workspace_id = as_of.workspace_id
    where balance_transactions.created_at <= as_of.as_of_at
    group by workspace_id, currency

)

select
    coalesce(ledger.workspace_id, stripe.workspace_id) as workspace_id,
    coalesce(ledger.currency, stripe.currency) as currency,
    ledger.total as ledger_total,
    stripe.total as stripe_total,
    ledger.available as ledger_available,
    stripe.available as stripe_available
from ledger
full outer join stripe
    on ledger.workspace_id = stripe.workspace_id
    and ledger.currency = stripe.currency
where ifNull(ledger.total, 0) != ifNull(stripe.total, 0)
    or ifNull(ledger.available, 0) != ifNull(stripe.available, 0)
