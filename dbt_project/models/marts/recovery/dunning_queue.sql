{{ config(order_by=['workspace_id', 'invoice_id']) }}

-- The dunning actions due now: for every open episode of a treatment customer, the first step of its
-- policy version (among the steps for its decline category) that has not been carried out, once its
-- day offset has passed. Holdout and not-enrolled customers, recovered or lost invoices and steps
-- already sent, skipped or in flight (`pending`) are excluded. The dunning job applies the gates that
-- depend on the moment (quiet hours, daily cap, live or dry run, retry budget; actions/policy.py).

with

episodes as (

    select * from {{ ref('fct_failed_payment_episodes') }}
    where outcome = 'open' and dunning_cohort = 'treatment'

),

steps as (

    select * from {{ ref('stg_dunning__policy_steps') }}

),

customers as (

    select workspace_id, customer_id, email from {{ ref('stg_stripe__customers') }}

),

attempts as (

    select * from {{ ref('int_recovery__payment_attempts') }}

),

latest_log as (

    select idempotency_key, argMax(status, recorded_at) as latest_status
    from {{ ref('stg_dunning__actions') }}
    group by idempotency_key

),

candidates as (

    select
        episodes.workspace_id as workspace_id,
        episodes.invoice_id as invoice_id,
        episodes.customer_id as customer_id,
        episodes.policy_version as policy_version,
        steps.step_index as step_index,
        steps.step_name as step_name,
        steps.action as action,
        steps.template as template,
        episodes.first_failed_at + toIntervalDay(steps.offset_days) as due_at,
        steps.retry_window_days as retry_window_days,
        concat(episodes.workspace_id, ':', episodes.invoice_id, ':', steps.step_name) as idempotency_key,
        episodes.decline_code as decline_code,
        episodes.decline_category as decline_category,
        episodes.is_retryable as is_retryable,
        episodes.amount_at_risk as amount_at_risk,
        episodes.amount_at_risk_major as amount_at_risk_major,
        episodes.currency as currency

    from episodes
    inner join steps
        on steps.workspace_id = episodes.workspace_id
        and steps.policy_version = episodes.policy_version
    where has(steps.decline_categories, episodes.decline_category)

),

next_steps as (

    -- The first step not yet done; while it is in flight (`pending`) the episode waits.
    select *
    from candidates
    where idempotency_key not in (
        select idempotency_key from latest_log where latest_status in ('sent', 'skipped')
    )
    order by workspace_id, invoice_id, step_index
    limit 1 by workspace_id, invoice_id

),

budget as (

    -- Payment attempts (automatic and ours) within the policy's retry-budget window.
    select
        next_steps.idempotency_key as idempotency_key,
        countIf(
            attempts.attempted_at > {{ build_as_of() }} - toIntervalDay(next_steps.retry_window_days)
        ) as attempts_in_window

    from next_steps
    inner join attempts
        on attempts.workspace_id = next_steps.workspace_id
        and attempts.invoice_id = next_steps.invoice_id
    group by next_steps.idempotency_key

),

final as (

    select
        next_steps.idempotency_key as idempotency_key,
        next_steps.workspace_id as workspace_id,
        next_steps.invoice_id as invoice_id,
        next_steps.customer_id as customer_id,
        nullIf(customers.email, '') as customer_email,
        next_steps.policy_version as policy_version,
        next_steps.step_index as step_index,
        next_steps.step_name as step_name,
        next_steps.action as action,
        next_steps.template as template,
        next_steps.due_at as due_at,
        next_steps.decline_code as decline_code,
        next_steps.decline_category as decline_category,
        next_steps.is_retryable as is_retryable,
        budget.attempts_in_window as attempts_in_window,
        next_steps.amount_at_risk as amount_at_risk,
        next_steps.amount_at_risk_major as amount_at_risk_major,
        next_steps.currency as currency

    from next_steps
    left join customers
        on customers.workspace_id = next_steps.workspace_id
        and customers.customer_id = next_steps.customer_id
    left join budget on budget.idempotency_key = next_steps.idempotency_key
    where next_steps.due_at <= {{ build_as_of() }}
        and next_steps.idempotency_key not in (
            select idempotency_key from latest_log where latest_status = 'pending'
        )

)

select * from final
