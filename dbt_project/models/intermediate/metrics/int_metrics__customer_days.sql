{{ config(order_by=['workspace_id', 'mrr_date', 'customer_id']) }}

-- Each paying customer's MRR at the end of each day in the reporting currency, across all their plans:
-- the level every SaaS metric starts from. MRR in a currency without an exchange rate yet (fx_rate
-- NULL in fct_mrr_daily) is left out: it cannot be added to the rest, and the metric marts list those
-- currencies instead (`unconverted_currencies`).

with

mrr_daily as (

    select * from {{ ref('fct_mrr_daily') }}
    where mrr is not null

),

final as (

    select
        mrr_daily.workspace_id as workspace_id,
        mrr_daily.mrr_date as mrr_date,
        mrr_daily.customer_id as customer_id,
        toInt64(sum(assumeNotNull(mrr_daily.mrr))) as customer_mrr
    from mrr_daily
    group by workspace_id, mrr_date, customer_id
    having customer_mrr > 0

)

select workspace_id, mrr_date, customer_id, customer_mrr as mrr from final
