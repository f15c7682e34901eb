{{ config(materialized='view') }}

-- Each workspace's connection to each provider, as its load attempts left it. A view over the
-- attempts (itself a view over raw.sync_attempts): the status is current the moment a load ends,
-- even after a run whose failed load kept dbt from rebuilding the other models. Plain aggregates
-- grouped by (workspace_id, provider), no window functions, so a query for one workspace (the API's)
-- has its filter pushed down to the log and aggregates that workspace's attempts only.
--
-- "Last" orders attempts by when they ended, then started, then by id, so two attempts ending in the
-- same microsecond still have one latest. `needs_reauth` and `last_error` are the latest attempt's:
-- a later success clears them.

with

attempts as (

    select
        *,
        tuple(finished_at, started_at, attempt_id) as recency
    from {{ ref('stg_syncs__attempts') }}

),

by_connection as (

    select
        workspace_id,
        provider,
        max(finished_at) as last_attempt_at,
        -- A tuple, since argMax skips NULL values and the latest attempt's NULL error is the point.
        argMax(tuple(succeeded, needs_reauth, error), recency) as last_attempt,
        maxIfOrNull(finished_at, succeeded) as last_success_at,
        argMaxIfOrNull(rows_loaded, recency, succeeded) as last_success_rows_loaded,
        countIf(succeeded) as successes,
        maxIf(recency, succeeded) as last_success_recency,
        groupArrayIf(recency, not succeeded) as failure_recencies,
        count() as attempts
    from attempts
    group by workspace_id, provider

),

final as (

    select
        workspace_id,
        provider,
        last_success_at,
        last_attempt_at,
        toBool(tupleElement(last_attempt, 1)) as last_attempt_succeeded,
        last_success_rows_loaded,
        tupleElement(last_attempt, 3) as last_error,
        toBool(tupleElement(last_attempt, 2)) as needs_reauth,
        -- Failures since the last success (all of them when there was none).
        toUInt64(
            if(
                successes = 0,
                length(failure_recencies),
                arrayCount(recency -> recency > last_success_recency, failure_recencies)
            )
        ) as consecutive_failures,
        toUInt64(attempts) as attempts
    from by_connection

)

select * from final
