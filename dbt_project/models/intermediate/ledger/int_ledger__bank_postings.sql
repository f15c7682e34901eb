{{ config(order_by=['workspace_id', 'source_object_id', 'posting_rule', 'posting_key', 'line_key']) }}

-- Ledger lines for the bank: every posted transaction moves cash in its account against suspense
-- (the ledger cannot explain payroll or rent), and a deposit matched to a Stripe payout then moves
-- from suspense to the payout in transit it clears. A posted transaction the bank later removes is
-- reversed when the removal was seen. Amounts are signed: debit positive.

with

transactions as (

    select * from {{ ref('stg_plaid__transactions') }}
    where not is_pending and amount is not null and currency is not null

),

payout_deposits as (

    select * from {{ ref('int_reconciliation__payout_deposits') }}
    where match_status = 'matched'

),

posted as (

    select
        workspace_id,
        transaction_id as source_object_id,
        'bank_transaction' as posting_rule,
        '' as posting_key,
        line.1 as line_key,
        toDateTime64(transaction_date, 3, 'UTC') as occurred_at,
        line.2 as account,
        line.3 as sub_account,
        currency,
        line.4 as amount,
        transaction_name as description
    from transactions
    -- Qualified names: ClickHouse would resolve a bare `amount` to this select's alias.
    array join [
        ('cash', 'cash', transactions.account_id, transactions.amount),
        ('counter', 'suspense', '', -transactions.amount)
    ] as line

),

removed as (

    select
        posted.workspace_id as workspace_id,
        posted.source_object_id as source_object_id,
        'bank_transaction_removed' as posting_rule,
        '' as posting_key,
        posted.line_key as line_key,
        transactions._revops_synced_at as occurred_at,
        posted.account as account,
        posted.sub_account as sub_account,
        posted.currency as currency,
        -posted.amount as amount,
        posted.description as description
    from posted
    inner join transactions
        on posted.workspace_id = transactions.workspace_id
        and posted.source_object_id = transactions.transaction_id
    where transactions.is_removed

),

payout_clearing as (

    select
        matches.workspace_id as workspace_id,
        matches.transaction_id as source_object_id,
        'bank_payout_deposit' as posting_rule,
        matches.payout_id as posting_key,
        line.1 as line_key,
        toDateTime64(transactions.transaction_date, 3, 'UTC') as occurred_at,
        line.2 as account,
        '' as sub_account,
        transactions.currency as currency,
        line.3 as amount,
        transactions.transaction_name as description
    from payout_deposits as matches
    inner join transactions
        on matches.workspace_id = transactions.workspace_id
        and matches.transaction_id = transactions.transaction_id
    array join [
        ('suspense', 'suspense', matches.deposit_amount),
        ('clearing', 'bank_clearing', -matches.deposit_amount)
    ] as line

),

final as (

    select * from posted
    union all
    select * from removed
    union all
    select * from payout_clearing

)

select
    ifNull(workspace_id, '') as workspace_id,
    'plaid' as source_system,
    ifNull(source_object_id, '') as source_object_id,
    posting_rule,
    posting_key,
    line_key,
    occurred_at,
    account,
    sub_account,
    currency,
    amount,
    cast(null as Nullable(String)) as customer_id,
    cast(null as Nullable(String)) as invoice_id,
    description
from final
-- A zero line records nothing.
where amount != 0
