{{ config(tags=['usage_daily'], meta={'dagster': {'ref': {'name': 'agg_usage_monthly'}}}) }}

-- Hours, days and months agree wherever finalized values roll up: inside each coarser window the
-- finer windows' event counts add up, COUNT and SUM add up, MAX is the largest, LATEST is the value
-- of the latest finer window, and UNIQUE_COUNT lies between the largest and the sum (only states
-- give it exactly). For the months of the days the run covers. Any row returned disagrees.

{% set roll_ups = [
    ('agg_usage_hourly', 'agg_usage_daily', 'toStartOfDay(window_start)'),
    ('agg_usage_daily', 'agg_usage_monthly', "toDateTime(toStartOfMonth(window_start), 'UTC')"),
] %}

with

{% for finer, coarser, coarser_start in roll_ups %}

{{ coarser }}_from_finer as (

    select
        workspace_id,
        customer_id,
        meter_slug,
        {{ coarser_start }} as coarser_window_start,
        sum(event_count) as event_count,
        sum(usage_quantity) as total,
        max(usage_quantity) as largest,
        argMax(usage_quantity, last_event_at) as latest
    from {{ ref(finer) }}
    where {{ usage_days_filter('toDate(window_start)', whole_months=true) }}
    group by workspace_id, customer_id, meter_slug, coarser_window_start

),

{{ coarser }}_disagreeing as (

    select
        '{{ coarser }}' as model,
        workspace_id,
        customer_id,
        meter_slug,
        coarser_window_start as window_start,
        coarser.aggregation as aggregation,
        coarser.usage_quantity as usage_quantity,
        finer.total as finer_total
    from (
        select * from {{ ref(coarser) }}
        where {{ usage_days_filter('toDate(window_start)', whole_months=true) }}
    ) as coarser
    full outer join {{ coarser }}_from_finer as finer
        on finer.workspace_id = coarser.workspace_id
        and finer.customer_id = coarser.customer_id
        and finer.meter_slug = coarser.meter_slug
        and finer.coarser_window_start = coarser.window_start
    where coarser.event_count != finer.event_count
        or (coarser.aggregation in ('COUNT', 'SUM') and coarser.usage_quantity != finer.total)
        or (coarser.aggregation = 'MAX' and coarser.usage_quantity != finer.largest)
        or (coarser.aggregation = 'LATEST' and coarser.usage_quantity != finer.latest)
        or (coarser.aggregation = 'UNIQUE_COUNT'
            and not coarser.usage_quantity between finer.largest and finer.total)

),

{% endfor %}

final as (

    {% for _, coarser, _ in roll_ups %}
    select * from {{ coarser }}_disagreeing
    {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
