{{ config(order_by=['workspace_id', 'payout_id']) }}

-- Each Stripe payout paired with at most one bank deposit, and each deposit with at most one payout.
-- A candidate deposit is money in (posted) in the payout's currency, described as from Stripe, dated
-- from the day before the payout's expected arrival to `payout_deposit_late_days` after it. Pairs are
-- chosen in rounds, each taking the mutual best pairs among what is still unpaired: two rounds on the
-- exact amount (closest date first), then one on amounts within 5% (closest amount, then date),
-- which reconciliation reports as amount mismatches.

with

payouts as (

    select
        workspace_id,
        payout_id,
        currency,
        toInt64(amount) as amount,
        toDate(arrival_at) as arrival_date
    from {{ ref('stg_stripe__payouts') }}
    where status not in ('failed', 'canceled') and amount > 0

),

deposits as (

    select workspace_id, transaction_id, account_id, currency, amount, transaction_date
    from {{ ref('stg_plaid__transactions') }}
    where not is_pending
        and not is_removed
        and amount > 0
        and (
            positionCaseInsensitive(transaction_name, 'stripe') > 0
            or positionCaseInsensitive(ifNull(merchant_name, ''), 'stripe') > 0
        )

),

candidates as (

    select
        payouts.workspace_id as workspace_id,
        payouts.payout_id as payout_id,
        deposits.transaction_id as transaction_id,
        deposits.account_id as account_id,
        payouts.amount as payout_amount,
        deposits.amount as deposit_amount,
        abs(deposits.amount - payouts.amount) as amount_gap,
        abs(dateDiff('day', payouts.arrival_date, deposits.transaction_date)) as day_gap
    from payouts
    inner join deposits
        on payouts.workspace_id = deposits.workspace_id
        and payouts.currency = deposits.currency
    where deposits.transaction_date
        between payouts.arrival_date - 1 and payouts.arrival_date + {{ var('payout_deposit_late_days') }}

),

exact as (

    select * from candidates where amount_gap = 0

),

exact_first as (

    {{ mutual_best_pairs('exact', 'payout_id', 'transaction_id', 'day_gap') }}

),

exact_remaining as (

    select * from exact
    where (workspace_id, payout_id) not in (select workspace_id, payout_id from exact_first)
        and (workspace_id, transaction_id) not in (select workspace_id, transaction_id from exact_first)

),

exact_second as (

    {{ mutual_best_pairs('exact_remaining', 'payout_id', 'transaction_id', 'day_gap') }}

),

exact_pairs as (

    select * from exact_first
    union all
    select * from exact_second

),

near as (

    select * from candidates
    where amount_gap > 0
        and amount_gap * 20 <= payout_amount
        and (workspace_id, payout_id) not in (select workspace_id, payout_id from exact_pairs)
        and (workspace_id, transaction_id) not in (select workspace_id, transaction_id from exact_pairs)

),

near_pairs as (

    {{ mutual_best_pairs('near', 'payout_id', 'transaction_id', 'amount_gap, day_gap') }}

),

final as (

    select *, 'matched' as match_status from exact_pairs
    union all
    select *, 'amount_mismatch' as match_status from near_pairs

)

select * from final
