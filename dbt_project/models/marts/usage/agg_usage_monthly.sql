{# Finalized values, one partition per month like the day states they come from: a run recomputes
   the whole months of its days, so a late event for a day shows in its month.
   Its contract is enforced (the API serves it), so a changed schema fails the run: rebuild with
   --full-refresh. #}
{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        on_schema_change='fail',
        partition_by='toYYYYMM(window_start)',
        order_by=['workspace_id', 'window_start', 'customer_id', 'meter_slug', 'aggregation'],
        tags=['usage_daily'],
        query_settings={'max_partitions_per_insert_block': 0},
    )
}}

-- Per workspace, customer, meter and calendar month (UTC): the month's day states merged, so its
-- unique count and latest value come from states, never from finalized days.

with

day_states as (

    select * except (window_start), toStartOfMonth(window_date) as usage_month
    from {{ ref('int_usage__meter_day') }}
    where {{ usage_days_filter('window_date', whole_months=true) }}

),

final as (

    select
        workspace_id,
        customer_id,
        meter_slug,
        toDateTime(usage_month, 'UTC') as window_start,
        window_start + interval 1 month as window_end,
        usage_month,
        aggregation,
        {{ usage_meter_value() }} as usage_quantity,
        countMerge(event_count_state) as event_count,
        max(last_event_at) as last_event_at
    from day_states
    group by workspace_id, customer_id, meter_slug, usage_month, aggregation

)

select * from final
