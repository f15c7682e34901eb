{{ config(order_by=['workspace_id', 'policy_version', 'horizon_days']) }}

-- Does dunning beat doing nothing? Per workspace and policy version, the share of episodes recovered
-- within N days in the treatment cohort minus the holdout's, with a 95% confidence interval
-- (normal approximation for a difference of two proportions). Only episodes old enough to have
-- reached day N count.

with

episodes as (

    select * from {{ ref('fct_failed_payment_episodes') }}
    where dunning_cohort in ('treatment', 'holdout')

),

horizons as (

    select arrayJoin([7, 14, 30]) as horizon_days

),

per_cohort as (

    select
        episodes.workspace_id as workspace_id,
        assumeNotNull(episodes.policy_version) as policy_version,
        horizons.horizon_days as horizon_days,
        countIf(episodes.dunning_cohort = 'treatment') as treatment_episodes,
        countIf(
            episodes.dunning_cohort = 'treatment'
            and episodes.recovered_at is not null
            and episodes.recovered_at <= episodes.first_failed_at + toIntervalDay(horizons.horizon_days)
        ) as treatment_recovered,
        countIf(episodes.dunning_cohort = 'holdout') as holdout_episodes,
        countIf(
            episodes.dunning_cohort = 'holdout'
            and episodes.recovered_at is not null
            and episodes.recovered_at <= episodes.first_failed_at + toIntervalDay(horizons.horizon_days)
        ) as holdout_recovered

    from episodes
    cross join horizons
    where episodes.first_failed_at + toIntervalDay(horizons.horizon_days) <= {{ recovery_as_of() }}
    group by workspace_id, policy_version, horizon_days

),

rates as (

    select
        *,
        if(treatment_episodes = 0, null, treatment_recovered / treatment_episodes) as treatment_recovery_rate,
        if(holdout_episodes = 0, null, holdout_recovered / holdout_episodes) as holdout_recovery_rate

    from per_cohort

),

final as (

    select
        *,
        treatment_recovery_rate - holdout_recovery_rate as uplift,
        1.96 * sqrt(
            treatment_recovery_rate * (1 - treatment_recovery_rate) / treatment_episodes
            + holdout_recovery_rate * (1 - holdout_recovery_rate) / holdout_episodes
        ) as uplift_margin_95,
        uplift - uplift_margin_95 as uplift_ci_low,
        uplift + uplift_margin_95 as uplift_ci_high

    from rates

)

select * from final
