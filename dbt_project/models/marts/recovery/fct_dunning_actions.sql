{{ config(order_by=['workspace_id', 'acted_at', 'attempt_id', 'recorded_at']) }}

-- The log of dunning actions taken: every row of the append-only dunning log (an attempt writes
-- `pending` before its side effect, then its outcome), with whether it is its step's latest row (the
-- one that says what happened). The queue item a `pending` row carries (`detail`, with the customer's
-- address) stays in the log: it is the executor's, not a reader's.

with

actions as (

    select * from {{ ref('stg_dunning__actions') }}

),

final as (

    select
        workspace_id,
        attempt_id,
        idempotency_key,
        invoice_id,
        customer_id,
        policy_version,
        step_index,
        step_name,
        action,
        status,
        reason,
        is_live,
        run_id,
        acted_at,
        recorded_at,
        -- The latest row of a step's key says what happened to it (the executor reads it so).
        toBool(recorded_at = max(recorded_at) over (partition by workspace_id, idempotency_key)) as is_latest
    from actions

)

select * from final
