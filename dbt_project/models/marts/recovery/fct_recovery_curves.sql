{{ config(order_by=['workspace_id', 'dunning_cohort', 'days_since_failure']) }}

-- Recovery curves: the cumulative share of failed-payment episodes recovered by each day 0…60 after
-- the first failure, per month of first failure and dunning cohort (treatment, holdout, not_enrolled),
-- with its 95 % Wilson interval, so treatment and holdout can be compared day by day. A NULL
-- `cohort_month` rolls up every month, `dunning_cohort = 'all'` every cohort. Day N counts only the
-- episodes whose first failure is at least N days old (`matured_episodes`), as fct_recovery_cohorts.

with

measured as (

    select {{ build_as_of() }} as measured_at

),

episodes as (

    select * from {{ ref('fct_failed_payment_episodes') }}

),

days as (

    select toUInt32(arrayJoin(range(61))) as days_since_failure

),

episode_days as (

    select
        episodes.workspace_id as workspace_id,
        toStartOfMonth(episodes.first_failed_at) as month,
        episodes.dunning_cohort as cohort,
        days.days_since_failure as days_since_failure,
        measured.measured_at as measured_at,
        episodes.first_failed_at + toIntervalDay(days.days_since_failure) <= measured.measured_at
            as is_matured,
        episodes.recovered_at is not null
            and episodes.recovered_at <= episodes.first_failed_at + toIntervalDay(days.days_since_failure)
            as is_recovered_by_then
    from episodes
    cross join days
    cross join measured

),

grouped as (

    select
        workspace_id,
        if(grouping(month) = 1, null, month) as cohort_month,
        if(grouping(cohort) = 1, 'all', cohort) as dunning_cohort,
        days_since_failure,
        any(measured_at) as measured_at,
        toInt64(count()) as episodes,
        toInt64(countIf(is_matured)) as matured_episodes,
        toInt64(countIf(is_matured and is_recovered_by_then)) as recovered_episodes
    from episode_days
    group by grouping sets (
        (workspace_id, month, cohort, days_since_failure),
        (workspace_id, month, days_since_failure),
        (workspace_id, cohort, days_since_failure),
        (workspace_id, days_since_failure)
    )

),

final as (

    select
        *,
        {{ metric_ratio('recovered_episodes', 'matured_episodes') }} as recovered_share,
        {{ wilson_bound('recovered_episodes', 'matured_episodes', 'low') }} as recovered_share_low,
        {{ wilson_bound('recovered_episodes', 'matured_episodes', 'high') }} as recovered_share_high
    from grouped

)

select * from final
