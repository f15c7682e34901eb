{{ config(meta={'dagster': {'ref': {'name': 'fct_ledger_entries'}}}) }}

-- No entry ever changes or disappears: every entry recorded by an earlier run is still in the ledger
-- with the same transaction, time, account, currency and amounts. Corrections are new entries.

select recorded.*
from {{ ref('fct_ledger_entries_recorded') }} as recorded
left join {{ ref('fct_ledger_entries') }} as entries
    on recorded.workspace_id = entries.workspace_id
    and recorded.entry_id = entries.entry_id
where ifNull(entries.entry_id, '') = ''
    or recorded.transaction_id != entries.transaction_id
    or recorded.occurred_at != entries.occurred_at
    or recorded.account != entries.account
    or recorded.sub_account != entries.sub_account
    or recorded.currency != entries.currency
    or recorded.debit != entries.debit
    or recorded.credit != entries.credit
