{{ config(order_by=['workspace_id', 'subscription_id']) }}

-- Every Stripe subscription that started with a trial, and how the trial ended: `converted` once an
-- invoice of the subscription has been paid with money (amount_paid > 0: the trial's own invoice is
-- zero), `not_converted` when the trial is over without one (cancelled during the trial, or its first
-- invoice never paid), `trialing` while it runs. A trial is decided when it ends: at its scheduled end,
-- or earlier if the subscription ended first.

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

subscriptions as (

    select * from {{ ref('stg_stripe__subscriptions') }}
    where trial_start_at is not null and trial_end_at is not null

),

paid_subscriptions as (

    select distinct workspace_id, subscription_id
    from {{ ref('stg_stripe__invoices') }}
    where status = 'paid' and amount_paid > 0 and subscription_id is not null

),

final as (

    select
        subscriptions.workspace_id as workspace_id,
        subscriptions.subscription_id as subscription_id,
        subscriptions.customer_id as customer_id,
        assumeNotNull(subscriptions.trial_start_at) as trial_start_at,
        assumeNotNull(least(subscriptions.trial_end_at, ifNull(subscriptions.ended_at, subscriptions.trial_end_at)))
            as trial_ended_at,
        multiIf(
            (subscriptions.workspace_id, subscriptions.subscription_id) in paid_subscriptions, 'converted',
            trial_ended_at <= as_of.as_of_at, 'not_converted',
            'trialing'
        ) as trial_outcome
    from subscriptions
    inner join as_of on subscriptions.workspace_id = as_of.workspace_id

)

select * from final
