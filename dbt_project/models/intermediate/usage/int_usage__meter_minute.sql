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

-- Per meter, customer, group and minute: aggregate states of the metered events.

with

metered as (

    select * from {{ ref('int_usage__metered_events') }}
    where {{ usage_days_filter('event_date') }}

),

final as (

    select
        workspace_id,
        customer_id,
        meter_slug,
        aggregation,
        toStartOfMinute(event_at) as window_start,
        toDate(window_start) as window_date,
        group_key,
        maxSimpleState(event_at) as last_event_at,
        {{ usage_states() }}
    from metered
    group by workspace_id, customer_id, meter_slug, aggregation, window_start, group_key

)

select * from final
