{# One partition per month, so a customer's billing period reads one or two: a run recomputes the
   whole months of its days, from the (small) hour states. #}
{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        engine='AggregatingMergeTree()',
        partition_by='toYYYYMM(window_date)',
        settings={'index_granularity': 1024},
        order_by=['workspace_id', 'customer_id', 'meter_slug', 'aggregation', 'window_start', 'group_key'],
        tags=['usage_daily'],
        query_settings={'max_partitions_per_insert_block': 0},
    )
}}

-- Per meter, customer, group and day: the hour states merged (exact for every aggregation).

with

finer as (

    select * except (window_start), window_start as finer_window_start from {{ ref('int_usage__meter_hour') }}
    where {{ usage_days_filter('window_date', whole_months=true) }}

),

final as (

    select
        workspace_id,
        customer_id,
        meter_slug,
        aggregation,
        toStartOfDay(finer_window_start) as window_start,
        toDate(window_start) as window_date,
        group_key,
        maxSimpleState(last_event_at) as last_event_at,
        {{ usage_states(merge=true) }}
    from finer
    group by workspace_id, customer_id, meter_slug, aggregation, window_start, group_key

)

select * from final
