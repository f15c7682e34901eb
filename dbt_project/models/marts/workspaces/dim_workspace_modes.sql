{{ config(order_by=['workspace_id']) }}

-- Whether each workspace's data is live or test mode, as the provider marks it: Stripe sets
-- `livemode` on every object (false for objects made with a test-mode key). A workspace is live when
-- any of its objects is; an object whose flag is unknown counts as live. The API lets test keys
-- (rk_test_…) read test-mode workspaces only (api/auth.py), as Stripe's test keys see test data only.

with

objects as (

    select workspace_id, is_livemode from {{ ref('stg_stripe__customers') }}
    -- Stripe's deleted stub (a customer deleted before revops saw it) has no `livemode`: it says
    -- nothing about the mode, so it must not count as an object whose flag is unknown.
    where is_livemode is not null or not is_deleted
    union all
    select workspace_id, is_livemode from {{ ref('stg_stripe__charges') }}
    union all
    select workspace_id, is_livemode from {{ ref('stg_stripe__invoices') }}
    union all
    select workspace_id, is_livemode from {{ ref('stg_stripe__payouts') }}
    union all
    select workspace_id, is_livemode from {{ ref('stg_stripe__events') }}

),

final as (

    select
        workspace_id,
        toBool(max(ifNull(is_livemode, true))) as is_livemode,
        count() as stripe_objects
    from objects
    group by workspace_id

)

select * from final
