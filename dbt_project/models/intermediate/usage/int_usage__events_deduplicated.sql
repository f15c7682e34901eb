{# One partition per day (what a run recomputes); a full rebuild writes them all in one insert. #}
{{
    config(
        materialized='incremental',
        incremental_strategy='insert_overwrite',
        partition_by='event_date',
        order_by=['workspace_id', 'customer_id', 'event_type', 'event_at', 'event_id'],
        tags=['usage_daily'],
        query_settings={'max_partitions_per_insert_block': 0},
    )
}}

-- Each event once, per (workspace, event id), however many times it was delivered or loaded:
-- the latest loaded version wins. Recomputed a whole day at a time (see usage_days_filter).
-- A delivery's copies share its `time`, so they always fall in the same day.

with

events as (

    select * from {{ ref('stg_usage__events') }}
    where {{ usage_days_filter('event_date') }}

),

deduplicated as (

    {{ deduplicate_latest('events', key_columns=['workspace_id', 'event_id'],
                          version_columns=['_revops_synced_at', '_dlt_load_id']) }}

),

final as (

    select
        workspace_id,
        event_id,
        customer_id,
        event_source,
        event_type,
        data,
        event_at,
        event_date,
        _revops_synced_at
    from deduplicated

)

select * from final
