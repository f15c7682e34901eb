{{ config(order_by=['workspace_id', 'policy_version', 'horizon_days']) }}

-- Does dunning beat doing nothing? Per workspace and policy version, the share of episodes recovered
-- within N days in the treatment cohort minus the holdout's, with a 95% confidence interval for that
-- difference: Newcombe's hybrid score interval (1998, method 10), built from each cohort's Wilson
-- interval. It stays within [-1, 1] and holds its coverage on the small cohorts dunning produces,
-- where the normal approximation does neither. Only episodes old enough to have reached day N count.

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
    where episodes.first_failed_at + toIntervalDay(horizons.horizon_days) <= {{ build_as_of() }}
    group by workspace_id, policy_version, horizon_days

),

rates as (

    select
        *,
        if(treatment_episodes = 0, null, treatment_recovered / treatment_episodes) as treatment_recovery_rate,
        if(holdout_episodes = 0, null, holdout_recovered / holdout_episodes) as holdout_recovery_rate

    from per_cohort

),

rate_intervals as (

    select
        *,
        {{ wilson_bound('treatment_recovered', 'treatment_episodes', 'low') }} as treatment_rate_low,
        {{ wilson_bound('treatment_recovered', 'treatment_episodes', 'high') }} as treatment_rate_high,
        {{ wilson_bound('holdout_recovered', 'holdout_episodes', 'low') }} as holdout_rate_low,
        {{ wilson_bound('holdout_recovered', 'holdout_episodes', 'high') }} as holdout_rate_high

    from rates

),

final as (

    select
        workspace_id,
        policy_version,
        horizon_days,
        treatment_episodes,
        treatment_recovered,
        holdout_episodes,
        holdout_recovered,
        treatment_recovery_rate,
        holdout_recovery_rate,
        treatment_recovery_rate - holdout_recovery_rate as uplift,
        uplift - sqrt(
            pow(treatment_recovery_rate - treatment_rate_low, 2)
            + pow(holdout_rate_high - holdout_recovery_rate, 2)
        ) as uplift_ci_low,
        uplift + sqrt(
            pow(treatment_rate_high - treatment_recovery_rate, 2)
            + pow(holdout_recovery_rate - holdout_rate_low, 2)
        ) as uplift_ci_high

    from rate_intervals

)

select * from final
