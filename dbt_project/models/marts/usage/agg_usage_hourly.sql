{# Finalized values ordered as the API pages them, so a page is a range read, not an aggregation.
   One partition per month (a run recomputes the whole months of its days from the hour states): day
   partitions would make every unfiltered page merge hundreds of parts.
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

-- Per workspace, customer, meter and UTC hour: the hour states of every group merged (exact for
-- every aggregation).

with

hour_states as (

    select * from {{ ref('int_usage__meter_hour') }}
    where {{ usage_days_filter('window_date', whole_months=true) }}

),

final as (

    select
        workspace_id,
        customer_id,
        meter_slug,
        window_start,
        window_start + interval 1 hour as window_end,
        aggregation,
        {{ usage_meter_value() }} as usage_quantity,
        countMerge(event_count_state) as event_count,
        max(last_event_at) as last_event_at
    from hour_states
    group by workspace_id, customer_id, meter_slug, window_start, aggregation

)

select * from final
