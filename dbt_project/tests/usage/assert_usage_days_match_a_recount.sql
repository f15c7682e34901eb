{{ config(tags=['usage_daily', 'usage_day_check'], meta={'dagster': {'ref': {'name': 'int_usage__meter_day'}}}) }}

-- The day aggregates (built minute → hour → day from the deduplicated events) equal a recount of
-- the raw deliveries, deduplicated here independently, for every workspace, customer, meter and day
-- the run covers. Any row returned is a day whose aggregates are wrong or missing.

with

raw_events as (

    select
        workspace_id,
        id as event_id,
        subject as customer_id,
        type as event_type,
        data,
        toDateTime64(time, 3, 'UTC') as event_at,
        toDate(time) as event_date
    from ({{ exclude_quarantined(source('usage', 'events')) }})
    where {{ usage_days_filter('toDate(time)') }}
    order by workspace_id, event_id, _revops_synced_at desc, _dlt_load_id desc
    limit 1 by workspace_id, event_id

),

recounted as (

    select
        workspace_id,
        customer_id,
        meter_slug,
        event_date as usage_date,
        multiIf(
            any(aggregation) = 'COUNT', toDecimal128(count(), 9),
            any(aggregation) = 'SUM', toDecimal128(sum(value_decimal), 9),
            any(aggregation) = 'UNIQUE_COUNT', toDecimal128(uniqExact(value_text), 9),
            any(aggregation) = 'MAX', toDecimal128(max(value_decimal), 9),
            toDecimal128(argMax(value_decimal, (event_at, event_id)), 9)
        ) as recounted_quantity,
        1 as in_recount
    from ({{ usage_metered_events('raw_events') }})
    group by workspace_id, customer_id, meter_slug, usage_date

),

aggregated as (

    select
        workspace_id,
        customer_id,
        meter_slug,
        window_date as usage_date,
        {{ usage_meter_value('any(aggregation)') }} as aggregated_quantity,
        1 as in_aggregates
    from {{ ref('int_usage__meter_day') }}
    where {{ usage_days_filter('window_date') }}
    group by workspace_id, customer_id, meter_slug, usage_date

)

-- ClickHouse fills unmatched FULL JOIN columns with defaults, not NULL: the flags tell the sides apart.
select *
from recounted
full outer join aggregated using (workspace_id, customer_id, meter_slug, usage_date)
where in_recount = 0 or in_aggregates = 0 or recounted_quantity != aggregated_quantity
