{{ config(order_by=['workspace_id', 'metric_date']) }}

-- The SaaS metric suite per workspace and day, in the reporting currency: MRR, ARR, customers and the
-- day's MRR movements at each day's end; rates over the trailing 30 days (day - 30, day], the way
-- Baremetrics charts every day; NRR and GRR also over the trailing twelve months. Formulas:
-- docs/metrics.md.

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

days as (

    select
        workspaces.workspace_id as workspace_id,
        workspaces.reporting_currency as reporting_currency,
        addDays(
            workspaces.first_mrr_date,
            arrayJoin(range(toUInt32(dateDiff('day', workspaces.first_mrr_date, workspaces.as_of_date) + 1)))
        ) as period_key,
        period_key as end_state_date,
        subtractMonths(period_key, 12) as t12m_start_state_date
    from workspaces

),

day_periods as (

    select *, period_key - 1 as start_state_date from days

),

window_periods as (

    select *, period_key - 30 as start_state_date from days

),

unconverted as (

    select * from {{ ref('int_metrics__unconverted_currencies') }}

),

{{ saas_period_metrics_ctes('day_periods', 'day', 'day') }},

{{ saas_period_metrics_ctes('window_periods', 'trailing_30_days', 'window') }},

final as (

    select
        days.workspace_id as workspace_id,
        days.period_key as metric_date,
        days.reporting_currency as reporting_currency,
        day.mrr as mrr,
        day.mrr * 12 as arr,
        day.paying_customers as paying_customers,
        day.new_mrr as new_mrr,
        day.expansion_mrr as expansion_mrr,
        day.contraction_mrr as contraction_mrr,
        day.voluntary_churn_mrr as voluntary_churn_mrr,
        day.involuntary_churn_mrr as involuntary_churn_mrr,
        day.churn_mrr as churn_mrr,
        day.reactivation_mrr as reactivation_mrr,
        day.net_new_mrr as net_new_mrr,
        day.new_customers as new_customers,
        day.reactivated_customers as reactivated_customers,
        day.churned_customers as churned_customers,
        day.voluntarily_churned_customers as voluntarily_churned_customers,
        day.involuntarily_churned_customers as involuntarily_churned_customers,
        day.arpa as arpa,
        day.average_selling_price as average_selling_price,
        window.starting_mrr as starting_mrr_30d,
        window.starting_customers as starting_customers_30d,
        window.churned_customers as churned_customers_30d,
        window.logo_churn_rate as logo_churn_rate_30d,
        window.gross_mrr_churn_rate as gross_mrr_churn_rate_30d,
        window.net_mrr_churn_rate as net_mrr_churn_rate_30d,
        window.nrr as nrr_30d,
        window.grr as grr_30d,
        window.quick_ratio as quick_ratio_30d,
        if(
            ifNull(window.logo_churn_rate, 0) = 0 or day.arpa_exact is null,
            null,
            toInt64(round(day.arpa_exact * {{ var('ltv_gross_margin') }} / window.logo_churn_rate))
        ) as ltv_30d,
        window.trials_ended as trials_ended_30d,
        window.trials_converted as trials_converted_30d,
        window.trial_to_paid_conversion_rate as trial_to_paid_conversion_rate_30d,
        window.nrr_trailing_12_months as nrr_trailing_12_months,
        window.grr_trailing_12_months as grr_trailing_12_months,
        unconverted.currencies as unconverted_currencies
    from days
    inner join day_metrics as day
        on day.workspace_id = days.workspace_id and day.period_key = days.period_key
    inner join window_metrics as window
        on window.workspace_id = days.workspace_id and window.period_key = days.period_key
    left join unconverted
        on unconverted.workspace_id = days.workspace_id and unconverted.mrr_date = days.period_key

)

select * from final
