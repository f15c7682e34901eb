{# A table, rebuilt whole by every usage run (after the day states it reads), ordered as the API pages
   it: reading it as a view recomputed every period of the workspace for each page. Rebuilding it
   whole keeps it exact whatever changed since: recomputed days, and periods Stripe added. #}
{{
    config(
        materialized='table',
        order_by=['workspace_id', 'subscription_id', 'period_start_at', 'meter_slug', 'aggregation'],
        tags=['usage_daily'],
    )
}}

-- Usage of every meter per subscription and billing period. Periods are the service periods of
-- the subscription's plan (licensed) invoice lines; their boundaries fall at any second, so whole
-- days inside a period come from the day states and the partial days at its edges from the
-- deduplicated events themselves: exact, and still only a few rows per customer.

with

periods as (

    select * from {{ ref('int_usage__billing_periods') }}

),

whole_days as (

    select
        periods.workspace_id as workspace_id,
        periods.subscription_id as subscription_id,
        periods.customer_id as customer_id,
        periods.period_start_at as period_start_at,
        periods.period_end_at as period_end_at,
        day_states.meter_slug as meter_slug,
        day_states.aggregation as aggregation,
        day_states.event_count_state as event_count_state,
        day_states.sum_state as sum_state,
        day_states.unique_state as unique_state,
        day_states.max_state as max_state,
        day_states.latest_state as latest_state
    from periods
    inner join {{ ref('int_usage__meter_day') }} as day_states
        on day_states.workspace_id = periods.workspace_id and day_states.customer_id = periods.customer_id
    where day_states.window_date >= periods.first_full_date and day_states.window_date < periods.end_date

),

edge_days as (

    -- The days a period only partly covers: its first unless it starts at midnight, its last unless
    -- it ends at one.
    select distinct workspace_id, customer_id, edge_date
    from periods
    array join [toDate(period_start_at), toDate(period_end_at)] as edge_date
    where edge_date < first_full_date or edge_date >= end_date

),

edge_events as (

    select * from {{ ref('int_usage__metered_events') }}
    where (workspace_id, customer_id, event_date) in (select workspace_id, customer_id, edge_date from edge_days)

),

edges as (

    select
        periods.workspace_id as workspace_id,
        periods.subscription_id as subscription_id,
        periods.customer_id as customer_id,
        periods.period_start_at as period_start_at,
        periods.period_end_at as period_end_at,
        edge_events.meter_slug as meter_slug,
        edge_events.aggregation as aggregation,
        {{ usage_states() }}
    from periods
    inner join edge_events
        on edge_events.workspace_id = periods.workspace_id and edge_events.customer_id = periods.customer_id
    where edge_events.event_at >= periods.period_start_at
        and edge_events.event_at < periods.period_end_at
        and (edge_events.event_date < periods.first_full_date or edge_events.event_date >= periods.end_date)
    group by workspace_id, subscription_id, customer_id, period_start_at, period_end_at, meter_slug, aggregation

),

final as (

    select
        workspace_id,
        -- Never NULL: periods come from invoice lines joined to their subscription, with both ends.
        assumeNotNull(subscription_id) as subscription_id,
        customer_id,
        assumeNotNull(period_start_at) as period_start_at,
        assumeNotNull(period_end_at) as period_end_at,
        meter_slug,
        aggregation,
        {{ usage_meter_value() }} as usage_quantity,
        countMerge(event_count_state) as event_count
    from (select * from whole_days union all select * from edges)
    group by workspace_id, subscription_id, customer_id, period_start_at, period_end_at, meter_slug, aggregation

)

select * from final
