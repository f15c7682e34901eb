{{ config(materialized='ephemeral') }}

-- The instant each workspace's data is complete to: the end of the last day with activity in its
-- sources, never later than now. Not the load time: a backfill or a simulated business loads data
-- whose clock is not the wall clock. `--vars '{ledger_as_of: "2026-11-01 23:59:59"}'` overrides it.

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
        {% if var('ledger_as_of', none) %}
        toDateTime64({{ "'" ~ var('ledger_as_of') ~ "'" }}, 3, 'UTC') as as_of_at
        {% else %}
        least(
            now64(3, 'UTC'),
            toDateTime64(toStartOfDay(max(active_at)), 3, 'UTC') + interval 1 day - interval 1 millisecond
        ) as as_of_at
        {% endif %}
    from activity
    where workspace_id is not null
    group by workspace_id

)

select * from final
