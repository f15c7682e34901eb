{#
    A rate: `numerator` / `denominator` as Float64, NULL when the denominator is zero (a period that
    starts without customers or MRR has no churn rate, never a division error).
#}
{% macro metric_ratio(numerator, denominator) -%}
    if(({{ denominator }}) = 0, null, toFloat64({{ numerator }}) / toFloat64({{ denominator }}))
{%- endmacro %}

{#
    Money per head: `amount` (integer minor units) / `count`, rounded half away from zero to integer
    minor units (Decimal arithmetic, exact); NULL when `count` is zero.
#}
{% macro metric_average_amount(amount, count) -%}
    if(({{ count }}) = 0, null, toInt64(round(toDecimal128({{ amount }}, 6) / ({{ count }}))))
{%- endmacro %}

{#
    The period keys a flow (a movement, a trial's end) dated `date_sql` counts in: its month for
    `grain='month'`, its day for `grain='day'`; for `grain='trailing_30_days'` the 30 days whose
    trailing window (day - 30, day] contains it.
#}
{% macro metric_period_keys(date_sql, grain) -%}
    {%- if grain == 'month' -%}
        [toStartOfMonth({{ date_sql }})]
    {%- elif grain == 'day' -%}
        [{{ date_sql }}]
    {%- elif grain == 'trailing_30_days' -%}
        arrayMap(offset -> addDays({{ date_sql }}, offset), range(30))
    {%- else -%}
        {{ exceptions.raise_compiler_error("metric_period_keys: unknown grain " ~ grain) }}
    {%- endif -%}
{%- endmacro %}

{#
    The CTEs computing the SaaS metric suite over periods (docs/metrics.md states every formula).
    `periods` names a CTE with one row per workspace_id and period_key and the dates whose end-of-day
    state the period compares: start_state_date (the day before the period), end_state_date (its last
    day, or the as-of day) and t12m_start_state_date (twelve months before end_state_date's period).
    Needs CTEs `customer_days` (int_metrics__customer_days), `movements` (fct_mrr_movements) and
    `trials` (int_metrics__trials). Defines `<prefix>_metrics`: one row per period with the levels at
    both ends, the flows within, cohort retention and every rate.
#}
{% macro saas_period_metrics_ctes(periods, grain, prefix) %}

{{ prefix }}_levels as (

    select workspace_id, mrr_date, toInt64(sum(mrr)) as mrr, toInt64(count()) as customers
    from customer_days
    group by workspace_id, mrr_date

),

{{ prefix }}_flows as (

    select
        workspace_id,
        period_key,
        toInt64(sumIf(mrr_change, movement_type = 'new')) as new_mrr,
        toInt64(sumIf(mrr_change, movement_type = 'expansion')) as expansion_mrr,
        toInt64(sumIf(mrr_change, movement_type = 'contraction')) as contraction_mrr,
        toInt64(sumIf(mrr_change, movement_type = 'voluntary_churn')) as voluntary_churn_mrr,
        toInt64(sumIf(mrr_change, movement_type = 'involuntary_churn')) as involuntary_churn_mrr,
        toInt64(sumIf(mrr_change, movement_type = 'reactivation')) as reactivation_mrr,
        toInt64(uniqExactIf(customer_id, movement_type = 'new')) as new_customers,
        toInt64(uniqExactIf(customer_id, movement_type = 'reactivation')) as reactivated_customers,
        toInt64(uniqExactIf(customer_id, movement_type in ('voluntary_churn', 'involuntary_churn')))
            as churned_customers,
        toInt64(uniqExactIf(customer_id, movement_type = 'voluntary_churn')) as voluntarily_churned_customers,
        toInt64(uniqExactIf(customer_id, movement_type = 'involuntary_churn'))
            as involuntarily_churned_customers
    from (
        select *, arrayJoin({{ metric_period_keys('movement_date', grain) }}) as period_key from movements
    )
    group by workspace_id, period_key

),

{{ prefix }}_trial_outcomes as (

    select
        workspace_id,
        period_key,
        toInt64(count()) as trials_ended,
        toInt64(countIf(trial_outcome = 'converted')) as trials_converted
    from (
        select *, arrayJoin({{ metric_period_keys('toDate(trial_ended_at)', grain) }}) as period_key
        from trials
        where trial_outcome != 'trialing'
    )
    group by workspace_id, period_key

),

-- Cohort retention: the customers paying at the start state, and what they pay at the end state, over
-- the period and over the trailing twelve months. A customer who left has no end row: ClickHouse fills
-- the unmatched left-join columns with defaults, so their end MRR reads 0.
{% for window, start_column in [('period', 'start_state_date'), ('t12m', 't12m_start_state_date')] %}
{{ prefix }}_{{ window }}_retention as (

    select
        {{ periods }}.workspace_id as workspace_id,
        {{ periods }}.period_key as period_key,
        toInt64(sum(starting.mrr)) as starting_mrr,
        toInt64(sum(ifNull(ending.mrr, 0))) as retained_mrr,
        toInt64(sum(least(starting.mrr, ifNull(ending.mrr, 0)))) as gross_retained_mrr
    from {{ periods }}
    inner join customer_days as starting
        on starting.workspace_id = {{ periods }}.workspace_id
        and starting.mrr_date = {{ periods }}.{{ start_column }}
    left join customer_days as ending
        on ending.workspace_id = starting.workspace_id
        and ending.customer_id = starting.customer_id
        and ending.mrr_date = {{ periods }}.end_state_date
    group by workspace_id, period_key

),
{% endfor %}

{{ prefix }}_metrics as (

    select
        {{ periods }}.workspace_id as workspace_id,
        {{ periods }}.period_key as period_key,
        ifNull(starts.mrr, 0) as starting_mrr,
        ifNull(starts.customers, 0) as starting_customers,
        ifNull(ends.mrr, 0) as mrr,
        ifNull(ends.customers, 0) as paying_customers,
        ifNull(flows.new_mrr, 0) as new_mrr,
        ifNull(flows.expansion_mrr, 0) as expansion_mrr,
        ifNull(flows.contraction_mrr, 0) as contraction_mrr,
        ifNull(flows.voluntary_churn_mrr, 0) as voluntary_churn_mrr,
        ifNull(flows.involuntary_churn_mrr, 0) as involuntary_churn_mrr,
        voluntary_churn_mrr + involuntary_churn_mrr as churn_mrr,
        ifNull(flows.reactivation_mrr, 0) as reactivation_mrr,
        new_mrr + expansion_mrr + contraction_mrr + churn_mrr + reactivation_mrr as net_new_mrr,
        ifNull(flows.new_customers, 0) as new_customers,
        ifNull(flows.reactivated_customers, 0) as reactivated_customers,
        ifNull(flows.churned_customers, 0) as churned_customers,
        ifNull(flows.voluntarily_churned_customers, 0) as voluntarily_churned_customers,
        ifNull(flows.involuntarily_churned_customers, 0) as involuntarily_churned_customers,
        ifNull(retention.retained_mrr, 0) as retained_mrr,
        ifNull(retention.gross_retained_mrr, 0) as gross_retained_mrr,
        ifNull(t12m.starting_mrr, 0) as t12m_starting_mrr,
        ifNull(t12m.retained_mrr, 0) as t12m_retained_mrr,
        ifNull(t12m.gross_retained_mrr, 0) as t12m_gross_retained_mrr,
        ifNull(trial_outcomes.trials_ended, 0) as trials_ended,
        ifNull(trial_outcomes.trials_converted, 0) as trials_converted,
        {{ metric_average_amount('mrr', 'paying_customers') }} as arpa,
        {{ metric_ratio('mrr', 'paying_customers') }} as arpa_exact,
        {{ metric_average_amount('new_mrr', 'new_customers') }} as average_selling_price,
        {{ metric_ratio('churned_customers', 'starting_customers') }} as logo_churn_rate,
        {{ metric_ratio('-(contraction_mrr + churn_mrr)', 'starting_mrr') }} as gross_mrr_churn_rate,
        {{ metric_ratio('-(contraction_mrr + churn_mrr + expansion_mrr + reactivation_mrr)', 'starting_mrr') }}
            as net_mrr_churn_rate,
        {{ metric_ratio('retained_mrr', 'starting_mrr') }} as nrr,
        {{ metric_ratio('gross_retained_mrr', 'starting_mrr') }} as grr,
        {{ metric_ratio('t12m_retained_mrr', 't12m_starting_mrr') }} as nrr_trailing_12_months,
        {{ metric_ratio('t12m_gross_retained_mrr', 't12m_starting_mrr') }} as grr_trailing_12_months,
        {{ metric_ratio('new_mrr + expansion_mrr + reactivation_mrr', '-(contraction_mrr + churn_mrr)') }}
            as quick_ratio,
        {{ metric_ratio('trials_converted', 'trials_ended') }} as trial_to_paid_conversion_rate
    from {{ periods }}
    left join {{ prefix }}_levels as starts
        on starts.workspace_id = {{ periods }}.workspace_id and starts.mrr_date = {{ periods }}.start_state_date
    left join {{ prefix }}_levels as ends
        on ends.workspace_id = {{ periods }}.workspace_id and ends.mrr_date = {{ periods }}.end_state_date
    left join {{ prefix }}_flows as flows
        on flows.workspace_id = {{ periods }}.workspace_id and flows.period_key = {{ periods }}.period_key
    left join {{ prefix }}_trial_outcomes as trial_outcomes
        on trial_outcomes.workspace_id = {{ periods }}.workspace_id
        and trial_outcomes.period_key = {{ periods }}.period_key
    left join {{ prefix }}_period_retention as retention
        on retention.workspace_id = {{ periods }}.workspace_id and retention.period_key = {{ periods }}.period_key
    left join {{ prefix }}_t12m_retention as t12m
        on t12m.workspace_id = {{ periods }}.workspace_id and t12m.period_key = {{ periods }}.period_key

)
{% endmacro %}
