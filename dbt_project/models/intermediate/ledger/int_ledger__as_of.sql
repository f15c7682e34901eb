{{ config(materialized='ephemeral') }}

-- The instant each workspace's data is complete to: the end of the last day with activity in its
-- sources, never later than the build's instant (`build_as_of()`: the start of this dbt invocation).
-- Not the load time: a backfill or a simulated business loads data whose clock is not the wall clock.
-- The build's `as_of` var (`--vars '{as_of: "2026-11-01 23:59:59"}'`) pins it for every workspace.

with

activity as (

    select workspace_id, created_at as active_at from {{ ref('stg_stripe__events') }}
    union all
    select workspace_id, created_at as active_at from {{ ref('stg_stripe__balance_transactions') }}
    union all
    select workspace_id, toDateTime64(transaction_date, 3, 'UTC') as active_at
    from {{ ref('stg_plaid__transactions') }}

),

final as (

    select
        workspace_id,
        {% if pinned_as_of() %}
        {{ build_as_of() }} as as_of_at
        {% else %}
        least(
            {{ build_as_of() }},
            toDateTime64(toStartOfDay(max(active_at)), 3, 'UTC') + interval 1 day - interval 1 millisecond
        ) as as_of_at
        {% endif %}
    from activity
    where workspace_id is not null
    group by workspace_id

)

select * from final
