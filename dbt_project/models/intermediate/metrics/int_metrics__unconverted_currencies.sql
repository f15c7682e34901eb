{{ config(order_by=['workspace_id', 'mrr_date']) }}

-- Per workspace and day, the currencies with MRR that have no exchange rate yet (fct_mrr_daily.mrr
-- NULL): MRR the metric marts leave out, and list on their rows.

select workspace_id, mrr_date, arraySort(groupUniqArray(assumeNotNull(currency))) as currencies
from {{ ref('fct_mrr_daily') }}
where mrr is null
group by workspace_id, mrr_date
