{{ config(order_by=['workspace_id', 'metric_month']) }}

-- The SaaS metric suite per workspace and calendar month, in the reporting currency: MRR and ARR at the
-- month's end, the month's MRR movements (the waterfall), customers, ARPA, ASP, churn and retention
-- rates, quick ratio, LTV and trial conversion. Formulas, and where ChartMogul and Baremetrics differ:
-- docs/metrics.md. The current month runs to the as-of day (`is_complete_month` false).

with

customer_days as (

    select * from {{ ref('int_metrics__customer_days') }}

),

movements as (

    select * from {{ ref('fct_mrr_movements') }}

),

trials as (

    select * from {{ ref('int_metrics__trials') }}

),

workspaces as (

    select * from {{ ref('int_metrics__workspaces') }}

),

first_trials as (

    select workspace_id, min(toDate(trial_ended_at)) as first_trial_ended_on
    from trials
    where trial_outcome != 'trialing'
    group by workspace_id

),

periods as (

    select
        workspaces.workspace_id as workspace_id,
        workspaces.reporting_currency as reporting_currency,
        -- From the first month with MRR or a decided trial (an unmatched left join reads '' and 1970).
        toStartOfMonth(if(
            first_trials.workspace_id = '',
            workspaces.first_mrr_date,
            least(workspaces.first_mrr_date, first_trials.first_trial_ended_on)
        )) as first_month,
        addMonths(
            first_month,
            arrayJoin(range(toUInt32(dateDiff('month', first_month, toStartOfMonth(workspaces.as_of_date)) + 1)))
        ) as period_key,
        period_key - 1 as start_state_date,
        least(toLastDayOfMonth(period_key), workspaces.as_of_date) as end_state_date,
        toStartOfMonth(subtractMonths(period_key, 11)) - 1 as t12m_start_state_date,
        toLastDayOfMonth(period_key) <= workspaces.as_of_date as is_complete_month
    from workspaces
    left join first_trials on workspaces.workspace_id = first_trials.workspace_id

),

unconverted as (

    select * from {{ ref('int_metrics__unconverted_currencies') }}

),

{{ saas_period_metrics_ctes('periods', 'month', 'monthly') }},

with_ltv as (

    select
        monthly_metrics.*,
        -- ChartMogul's LTV divides by the average customer churn rate of the six months before.
        avg(monthly_metrics.logo_churn_rate) over (
            partition by monthly_metrics.workspace_id
            order by monthly_metrics.period_key
            rows between 6 preceding and 1 preceding
        ) as trailing_6_month_logo_churn_rate
    from monthly_metrics

),

final as (

    select
        periods.workspace_id as workspace_id,
        periods.period_key as metric_month,
        periods.end_state_date as period_end_date,
        periods.is_complete_month as is_complete_month,
        periods.reporting_currency as reporting_currency,
        metrics.starting_mrr as starting_mrr,
        metrics.mrr as mrr,
        metrics.mrr * 12 as arr,
        metrics.new_mrr as new_mrr,
        metrics.expansion_mrr as expansion_mrr,
        metrics.contraction_mrr as contraction_mrr,
        metrics.voluntary_churn_mrr as voluntary_churn_mrr,
        metrics.involuntary_churn_mrr as involuntary_churn_mrr,
        metrics.churn_mrr as churn_mrr,
        metrics.reactivation_mrr as reactivation_mrr,
        metrics.net_new_mrr as net_new_mrr,
        metrics.starting_customers as starting_customers,
        metrics.paying_customers as paying_customers,
        metrics.new_customers as new_customers,
        metrics.reactivated_customers as reactivated_customers,
        metrics.churned_customers as churned_customers,
        metrics.voluntarily_churned_customers as voluntarily_churned_customers,
        metrics.involuntarily_churned_customers as involuntarily_churned_customers,
        metrics.arpa as arpa,
        metrics.average_selling_price as average_selling_price,
        metrics.logo_churn_rate as logo_churn_rate,
        metrics.gross_mrr_churn_rate as gross_mrr_churn_rate,
        metrics.net_mrr_churn_rate as net_mrr_churn_rate,
        metrics.nrr as nrr,
        metrics.grr as grr,
        metrics.nrr_trailing_12_months as nrr_trailing_12_months,
        metrics.grr_trailing_12_months as grr_trailing_12_months,
        metrics.quick_ratio as quick_ratio,
        metrics.trailing_6_month_logo_churn_rate as trailing_6_month_logo_churn_rate,
        if(
            ifNull(metrics.trailing_6_month_logo_churn_rate, 0) = 0 or metrics.arpa_exact is null,
            null,
            toInt64(round(
                metrics.arpa_exact * {{ var('ltv_gross_margin') }} / metrics.trailing_6_month_logo_churn_rate
            ))
        ) as ltv,
        metrics.trials_ended as trials_ended,
        metrics.trials_converted as trials_converted,
        metrics.trial_to_paid_conversion_rate as trial_to_paid_conversion_rate,
        unconverted.currencies as unconverted_currencies
    from periods
    inner join with_ltv as metrics
        on metrics.workspace_id = periods.workspace_id and metrics.period_key = periods.period_key
    left join unconverted
        on unconverted.workspace_id = periods.workspace_id and unconverted.mrr_date = periods.end_state_date

)

select * from final
