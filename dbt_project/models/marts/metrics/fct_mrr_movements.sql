{{ config(order_by=['workspace_id', 'movement_date', 'customer_id']) }}

-- Day-over-day changes of each customer's MRR (reporting currency), classified as ChartMogul and
-- Baremetrics do, per customer across all their plans: new (first MRR ever), reactivation (MRR again
-- after churning), expansion, contraction, and churn: involuntary when a subscription ended that day
-- because payment failed, voluntary otherwise. The movements of a day add up to that day's MRR change.

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

customer_days as (

    select workspace_id, customer_id, mrr_date, sum(mrr) as mrr
    from {{ ref('fct_mrr_daily') }}
    group by workspace_id, customer_id, mrr_date

),

-- Each day's MRR, and the same value as the next day's previous MRR, so that the day after a
-- customer's last day with MRR is seen too.
compared as (

    select
        workspace_id,
        customer_id,
        day.1 as movement_date,
        sum(day.2) as mrr,
        sum(day.3) as previous_mrr
    from customer_days
    array join [
        (customer_days.mrr_date, customer_days.mrr, toInt64(0)),
        (addDays(customer_days.mrr_date, 1), toInt64(0), customer_days.mrr)
    ] as day
    group by workspace_id, customer_id, movement_date

),

first_days as (

    select workspace_id, customer_id, min(mrr_date) as first_mrr_date
    from customer_days
    group by workspace_id, customer_id

),

failed_payment_endings as (

    select distinct workspace_id, customer_id, toDate(ended_at) as ended_on
    from {{ ref('stg_stripe__subscriptions') }}
    where cancellation_reason = 'payment_failed' and ended_at is not null

),

final as (

    select
        compared.workspace_id as workspace_id,
        compared.movement_date as movement_date,
        compared.customer_id as customer_id,
        multiIf(
            compared.previous_mrr = 0 and compared.movement_date = first_days.first_mrr_date, 'new',
            compared.previous_mrr = 0, 'reactivation',
            compared.mrr = 0 and failed_payment_endings.ended_on is not null, 'involuntary_churn',
            compared.mrr = 0, 'voluntary_churn',
            compared.mrr > compared.previous_mrr, 'expansion',
            'contraction'
        ) as movement_type,
        toInt64(compared.previous_mrr) as previous_mrr,
        toInt64(compared.mrr) as mrr,
        toInt64(compared.mrr - compared.previous_mrr) as mrr_change
    from compared
    inner join as_of on compared.workspace_id = as_of.workspace_id
    inner join first_days
        on compared.workspace_id = first_days.workspace_id
        and compared.customer_id = first_days.customer_id
    left join failed_payment_endings
        on compared.workspace_id = failed_payment_endings.workspace_id
        and compared.customer_id = failed_payment_endings.customer_id
        and compared.movement_date = failed_payment_endings.ended_on
    where compared.mrr != compared.previous_mrr and compared.movement_date <= toDate(as_of.as_of_at)

)

select * from final
