{# One partition per day (what a run recomputes); a full rebuild writes them all in one insert. #}
{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        engine='AggregatingMergeTree()',
        partition_by='window_date',
        order_by=['workspace_id', 'customer_id', 'meter_slug', 'aggregation', 'window_start', 'group_key'],
        tags=['usage_daily'],
        query_settings={'max_partitions_per_insert_block': 0},
    )
}}

-- Per meter, customer, group and hour: the minute states merged (exact for every aggregation).

with

finer as (

    select * except (window_start), window_start as finer_window_start from {{ ref('int_usage__meter_minute') }}
    where {{ usage_days_filter('window_date') }}

),

final as (

    select
        workspace_id,
        customer_id,
        meter_slug,
        aggregation,
        toStartOfHour(finer_window_start) as window_start,
        toDate(window_start) as window_date,
        group_key,
        maxSimpleState(last_event_at) as last_event_at,
        {{ usage_states(merge=true) }}
    from finer
    group by workspace_id, customer_id, meter_slug, aggregation, window_start, group_key

)

select * from final
