{{ config(order_by=['workspace_id', 'cohort_month', 'months_since_first_payment']) }}

-- The retention heatmap: customers grouped by the month of their first payment (their `new` MRR
-- movement), and how many of them, and how much of their MRR, remain at the end of each month since
-- (month 0 is the end of the first month itself, so a customer who leaves within it is not retained).
-- MRR retention counts expansion and reactivation, so it can pass 100 %. The current month is measured
-- at the as-of day (`is_complete_month` false).

with

as_of as (

    select workspace_id, as_of_date from {{ ref('int_metrics__workspaces') }}

),

customer_days as (

    select * from {{ ref('int_metrics__customer_days') }}

),

first_payments as (

    select workspace_id, customer_id, toStartOfMonth(movement_date) as cohort_month, mrr_change as first_mrr
    from {{ ref('fct_mrr_movements') }}
    where movement_type = 'new'

),

cohorts as (

    select
        workspace_id,
        cohort_month,
        toInt64(count()) as cohort_customers,
        toInt64(sum(first_mrr)) as cohort_mrr
    from first_payments
    group by workspace_id, cohort_month

),

cohort_months as (

    select
        cohorts.workspace_id as workspace_id,
        cohorts.cohort_month as cohort_month,
        cohorts.cohort_customers as cohort_customers,
        cohorts.cohort_mrr as cohort_mrr,
        toUInt32(arrayJoin(range(toUInt32(
            dateDiff('month', cohorts.cohort_month, toStartOfMonth(as_of.as_of_date)) + 1
        )))) as months_since_first_payment,
        least(toLastDayOfMonth(addMonths(cohorts.cohort_month, months_since_first_payment)), as_of.as_of_date)
            as measured_on,
        toLastDayOfMonth(addMonths(cohorts.cohort_month, months_since_first_payment)) <= as_of.as_of_date
            as is_complete_month
    from cohorts
    inner join as_of on cohorts.workspace_id = as_of.workspace_id

),

retained as (

    select
        cohort_months.workspace_id as workspace_id,
        cohort_months.cohort_month as cohort_month,
        cohort_months.months_since_first_payment as months_since_first_payment,
        toInt64(count()) as retained_customers,
        toInt64(sum(customer_days.mrr)) as retained_mrr
    from cohort_months
    inner join first_payments
        on first_payments.workspace_id = cohort_months.workspace_id
        and first_payments.cohort_month = cohort_months.cohort_month
    inner join customer_days
        on customer_days.workspace_id = first_payments.workspace_id
        and customer_days.customer_id = first_payments.customer_id
        and customer_days.mrr_date = cohort_months.measured_on
    group by workspace_id, cohort_month, months_since_first_payment

),

final as (

    select
        cohort_months.workspace_id as workspace_id,
        cohort_months.cohort_month as cohort_month,
        cohort_months.months_since_first_payment as months_since_first_payment,
        cohort_months.measured_on as measured_on,
        cohort_months.is_complete_month as is_complete_month,
        cohort_months.cohort_customers as cohort_customers,
        cohort_months.cohort_mrr as cohort_mrr,
        -- Unmatched left-join columns read 0 (ClickHouse defaults): nobody retained.
        retained.retained_customers as retained_customers,
        retained.retained_mrr as retained_mrr,
        {{ metric_ratio('retained_customers', 'cohort_customers') }} as customer_retention_rate,
        {{ metric_ratio('retained_mrr', 'cohort_mrr') }} as mrr_retention_rate
    from cohort_months
    left join retained
        on retained.workspace_id = cohort_months.workspace_id
        and retained.cohort_month = cohort_months.cohort_month
        and retained.months_since_first_payment = cohort_months.months_since_first_payment

)

select * from final
