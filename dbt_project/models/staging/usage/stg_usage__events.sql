{{ config(materialized='view') }}

-- A view: the deduplicated, day-partitioned copy is int_usage__events_deduplicated, which reads
-- only the days it recomputes from here. Every usage model is tagged usage_daily: they run in
-- their own day-partitioned Dagster job (assets/usage.py).

with

source as (

    {{ exclude_quarantined(source('usage', 'events')) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as event_id,
        subject as customer_id,

        ---------- strings
        source as event_source,
        type as event_type,
        specversion as spec_version,
        data,
        received_from,

        ---------- timestamps
        toDateTime64(time, 3, 'UTC') as event_at,
        toDate(time) as event_date,
        _revops_synced_at,
        _dlt_load_id

    from source

),

final as (

    select * from renamed

)

select * from final
