{{ config(order_by=['workspace_id']) }}

-- The workspaces with MRR and what every metric mart needs to know of them: the reporting currency,
-- the first day with MRR, and the ledger's as-of day the marts run to.

with

as_of as (

    select workspace_id, assumeNotNull(toDate(as_of_at)) as as_of_date from {{ ref('int_ledger__as_of') }}

),

final as (

    select
        mrr_daily.workspace_id as workspace_id,
        any(mrr_daily.reporting_currency) as reporting_currency,
        min(mrr_daily.mrr_date) as first_mrr_date,
        any(as_of.as_of_date) as as_of_date
    from {{ ref('fct_mrr_daily') }} as mrr_daily
    inner join as_of on mrr_daily.workspace_id = as_of.workspace_id
    group by workspace_id

)

select * from final
