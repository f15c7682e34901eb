{{ config(order_by=['workspace_id', 'idempotency_key', 'recorded_at']) }}

with

source as (

    select * from {{ source('dunning', 'dunning_actions') }}

),

final as (

    select
        workspace_id,
        idempotency_key,
        attempt_id,
        invoice_id,
        customer_id,
        policy_version,
        step_index,
        step_name,
        action,
        status,
        reason,
        detail,
        is_live,
        run_id,
        toDateTime64(acted_at, 3, 'UTC') as acted_at,
        toDateTime64(recorded_at, 6, 'UTC') as recorded_at

    from source

)

select * from final
