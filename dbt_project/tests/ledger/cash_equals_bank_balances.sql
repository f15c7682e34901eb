{{ config(severity='warn', meta={'dagster': {'ref': {'name': 'fct_ledger_entries'}}}) }}

-- Cash per bank account equals the bank's current balance. A warning, not an error: Plaid serves a
-- limited history, so an account older than it has an opening balance the ledger cannot see.

with

ledger as (

    select workspace_id, sub_account as account_id, currency, sum(debit) - sum(credit) as balance
    from {{ ref('fct_ledger_entries') }}
    where account = 'cash'
    group by workspace_id, account_id, currency

),

bank as (

    select workspace_id, account_id, currency, balance_current
    from {{ ref('stg_plaid__accounts') }}

)

select
    bank.workspace_id as workspace_id,
    bank.account_id as account_id,
    bank.currency as currency,
    bank.balance_current as bank_balance,
    ledger.balance as ledger_balance
from bank
left join ledger
    on bank.workspace_id = ledger.workspace_id
    and bank.account_id = ledger.account_id
where ifNull(ledger.balance, 0) != ifNull(bank.balance_current, 0)
