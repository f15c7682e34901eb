{{ config(materialized='view', tags=['usage_daily']) }}

-- A view over the day states: always as current as the last processed day partition, with no
-- rebuild of its own (the states are small; merging them is the query).

with

day_states as (

    select * from {{ ref('int_usage__meter_day') }}

),

final as (

    select
        workspace_id,
        customer_id,
        meter_slug,
        window_date as usage_date,
        aggregation,
        {{ usage_meter_value() }} as usage_quantity,
        countMerge(event_count_state) as event_count,
        max(last_event_at) as last_event_at
    from day_states
    group by workspace_id, customer_id, meter_slug, usage_date, aggregation

)

select * from final
