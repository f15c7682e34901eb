{{ config(materialized='incremental', incremental_strategy='append', order_by=['workspace_id', 'entry_id']) }}

-- Every ledger entry as it was first recorded, kept across runs (append only): the reference the
-- `ledger_entries_never_change` test compares each new build of fct_ledger_entries against.
-- A --full-refresh starts the record over.

with

entries as (

    select * from {{ ref('fct_ledger_entries') }}

),

final as (

    select
        entries.entry_id as entry_id,
        entries.transaction_id as transaction_id,
        entries.workspace_id as workspace_id,
        entries.occurred_at as occurred_at,
        entries.account as account,
        entries.sub_account as sub_account,
        entries.currency as currency,
        entries.debit as debit,
        entries.credit as credit,
        entries.posting_rule as posting_rule,
        now64(3, 'UTC') as recorded_at
    from entries
    {% if is_incremental() %}
    where (entries.workspace_id, entries.entry_id) not in (select workspace_id, entry_id from {{ this }})
    {% endif %}

)

select * from final
