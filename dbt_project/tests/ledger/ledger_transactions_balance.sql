-- Every ledger transaction balances in each currency: its debits equal its credits.

select
    workspace_id,
    transaction_id,
    currency,
    sum(debit) as debits,
    sum(credit) as credits
from {{ ref('fct_ledger_entries') }}
group by workspace_id, transaction_id, currency
having debits != credits
