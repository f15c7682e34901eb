{{ config(order_by=['workspace_id', 'reconciliation_status']) }}

-- Every Stripe payout with its bank deposit and a status, plus every deposit into a payout account
-- that no payout explains. Matching is in int_reconciliation__payout_deposits (docs/ledger.md).

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

payouts as (

    select * from {{ ref('stg_stripe__payouts') }}

),

matches as (

    select * from {{ ref('int_reconciliation__payout_deposits') }}

),

bank_transactions as (

    select * from {{ ref('stg_plaid__transactions') }}
    where not is_pending and not is_removed

),

payout_rows as (

    select
        payouts.workspace_id as workspace_id,
        payouts.payout_id as payout_id,
        -- Unpaired, the join gives empty strings where the columns are not Nullable.
        nullIf(matches.transaction_id, '') as bank_transaction_id,
        nullIf(matches.account_id, '') as bank_account_id,
        multiIf(
            payouts.status in ('failed', 'canceled'), 'failed',
            ifNull(matches.match_status, '') != '', matches.match_status,
            toDate(as_of.as_of_at) > toDate(payouts.arrival_at) + {{ var('payout_deposit_late_days') }},
            'missing_in_bank',
            'in_transit'
        ) as reconciliation_status,
        payouts.currency as currency,
        toInt64(payouts.amount) as payout_amount,
        matches.deposit_amount as deposit_amount,
        payouts.created_at as payout_created_at,
        toDate(payouts.arrival_at) as expected_arrival_date,
        bank_transactions.transaction_date as deposit_date,
        bank_transactions.transaction_name as deposit_description
    from payouts
    inner join as_of on payouts.workspace_id = as_of.workspace_id
    left join matches
        on payouts.workspace_id = matches.workspace_id
        and payouts.payout_id = matches.payout_id
    left join bank_transactions
        on matches.workspace_id = bank_transactions.workspace_id
        and matches.transaction_id = bank_transactions.transaction_id

),

-- The accounts Stripe pays out to: those that received a matched payout.
payout_accounts as (

    select distinct workspace_id, account_id from matches

),

unexplained_deposits as (

    select
        bank_transactions.workspace_id as workspace_id,
        cast(null as Nullable(String)) as payout_id,
        bank_transactions.transaction_id as bank_transaction_id,
        bank_transactions.account_id as bank_account_id,
        'unexplained_deposit' as reconciliation_status,
        bank_transactions.currency as currency,
        cast(null as Nullable(Int64)) as payout_amount,
        bank_transactions.amount as deposit_amount,
        cast(null as Nullable(DateTime64(3, 'UTC'))) as payout_created_at,
        cast(null as Nullable(Date)) as expected_arrival_date,
        bank_transactions.transaction_date as deposit_date,
        bank_transactions.transaction_name as deposit_description
    from bank_transactions
    inner join payout_accounts
        on bank_transactions.workspace_id = payout_accounts.workspace_id
        and bank_transactions.account_id = payout_accounts.account_id
    where bank_transactions.amount > 0
        and (bank_transactions.workspace_id, bank_transactions.transaction_id)
            not in (select workspace_id, transaction_id from matches)

),

unioned as (

    select * from payout_rows
    union all
    select * from unexplained_deposits

),

final as (

    select
        ifNull(workspace_id, '') as workspace_id,
        payout_id,
        bank_transaction_id,
        bank_account_id,
        reconciliation_status,
        toBool(reconciliation_status in ('amount_mismatch', 'missing_in_bank', 'unexplained_deposit')) as is_flagged,
        currency,
        payout_amount,
        deposit_amount,
        deposit_amount - payout_amount as amount_difference,
        payout_created_at,
        expected_arrival_date,
        deposit_date,
        dateDiff('day', expected_arrival_date, deposit_date) as days_after_expected,
        deposit_description
    from unioned

)

select * from final
