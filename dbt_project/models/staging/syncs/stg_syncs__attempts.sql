{{ config(materialized='view') }}

-- A view, not a table: dbt runs after ingestion only when every load step succeeded, and the status of
-- a failing connection matters most in exactly the run that failed.

with

source as (

    select * from {{ source('syncs', 'sync_attempts') }}

),

final as (

    select
        workspace_id,
        source as provider,
        attempt_id,
        toDateTime64(started_at, 6, 'UTC') as started_at,
        toDateTime64(finished_at, 6, 'UTC') as finished_at,
        toBool(succeeded) as succeeded,
        toInt64(ifNull(rows_loaded, 0)) as rows_loaded,
        if(succeeded, null, error) as error,
        toBool(ifNull(needs_reauth, false)) as needs_reauth

    from source

)

select * from final
