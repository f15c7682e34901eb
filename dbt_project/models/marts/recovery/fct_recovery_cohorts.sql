{{ config(order_by=['workspace_id', 'cohort_month', 'days_since_failure']) }}

-- Failed-payment episodes grouped by month of first failure, currency, decline category and dunning
-- cohort, with the cumulative share recovered N days after the first failure. Rows with
-- `decline_category = 'all'` or `dunning_cohort = 'all'` roll up over that dimension. Only episodes
-- old enough to have reached day N count towards day N (`matured_episodes`).

with

episodes as (

    select * from {{ ref('fct_failed_payment_episodes') }}

),

horizons as (

    select arrayJoin([1, 3, 7, 14, 30, 60]) as days_since_failure

),

episode_days as (

    select
        episodes.workspace_id as workspace_id,
        toStartOfMonth(episodes.first_failed_at) as cohort_month,
        episodes.currency as currency,
        episodes.decline_category as category,
        episodes.dunning_cohort as cohort,
        horizons.days_since_failure as days_since_failure,
        episodes.amount_at_risk as amount_at_risk,
        episodes.first_failed_at + toIntervalDay(horizons.days_since_failure) <= {{ build_as_of() }}
            as is_matured,
        episodes.recovered_at is not null
            and episodes.recovered_at <= episodes.first_failed_at + toIntervalDay(horizons.days_since_failure)
            as is_recovered_by_then

    from episodes
    cross join horizons

),

grouped as (

    select
        workspace_id,
        cohort_month,
        currency,
        if(grouping(category) = 1, 'all', category) as decline_category,
        if(grouping(cohort) = 1, 'all', cohort) as dunning_cohort,
        days_since_failure,
        count() as episodes,
        countIf(is_matured) as matured_episodes,
        countIf(is_matured and is_recovered_by_then) as recovered_episodes,
        sumIf(amount_at_risk, is_matured) as matured_amount_at_risk,
        sumIf(amount_at_risk, is_matured and is_recovered_by_then) as recovered_amount

    from episode_days
    group by grouping sets (
        (workspace_id, cohort_month, currency, days_since_failure, category, cohort),
        (workspace_id, cohort_month, currency, days_since_failure, cohort),
        (workspace_id, cohort_month, currency, days_since_failure, category),
        (workspace_id, cohort_month, currency, days_since_failure)
    )

),

final as (

    select
        *,
        -- Shares are ratios, not money: Float64 is fine; the amounts themselves stay integers.
        if(matured_episodes = 0, null, recovered_episodes / matured_episodes) as recovered_share_by_count,
        if(matured_amount_at_risk = 0, null, recovered_amount / matured_amount_at_risk)
            as recovered_share_by_amount

    from grouped

)

select * from final
