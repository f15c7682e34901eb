{# One partition per day (what a run recomputes); a full rebuild writes them all in one insert. #}
{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by='event_date',
        order_by=['workspace_id', 'customer_id', 'meter_slug', 'event_at', 'event_id'],
        tags=['usage_daily'],
        query_settings={'max_partitions_per_insert_block': 0},
    )
}}

-- Every (deduplicated event, meter counting it) pair with the meter's value extracted: what the
-- minute states aggregate, and what a billing period's partial edge days are read from, without
-- parsing JSON or joining the meters at query time.

with

metered as (

    {{ usage_metered_events(ref('int_usage__events_deduplicated'), usage_days_filter('events.event_date')) }}

),

final as (

    select * from metered

)

select * from final
