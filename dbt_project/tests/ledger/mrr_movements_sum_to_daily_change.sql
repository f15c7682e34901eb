{{ config(meta={'dagster': {'ref': {'name': 'fct_mrr_movements'}}}) }}

-- Each day's MRR movements add up to the change of that day's total MRR, per workspace.

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

totals as (

    select workspace_id, mrr_date, sum(mrr) as total_mrr
    from {{ ref('fct_mrr_daily') }}
    group by workspace_id, mrr_date

),

-- A day's total counts positively that day and negatively the next: summed, the day-over-day change.
daily_changes as (

    select totals.workspace_id as workspace_id, day.1 as change_date, sum(day.2) as total_change
    from totals
    array join [(totals.mrr_date, totals.total_mrr), (addDays(totals.mrr_date, 1), -totals.total_mrr)] as day
    group by workspace_id, change_date

),

movements as (

    select workspace_id, movement_date, sum(mrr_change) as movements_change
    from {{ ref('fct_mrr_movements') }}
    group by workspace_id, movement_date

)

select
    daily_changes.workspace_id as workspace_id,
    daily_changes.change_date as change_date,
    daily_changes.total_change as total_change,
    movements.movements_change as movements_change
from daily_changes
inner join as_of on daily_changes.workspace_id = as_of.workspace_id
left join movements
    on daily_changes.workspace_id = movements.workspace_id
    and daily_changes.change_date = movements.movement_date
where daily_changes.change_date <= toDate(as_of.as_of_at)
    and daily_changes.total_change != ifNull(movements.movements_change, 0)

union all

-- Movements on a day whose total did not change.
select movements.workspace_id, movements.movement_date, 0, movements.movements_change
from movements
left anti join daily_changes
    on movements.workspace_id = daily_changes.workspace_id
    and movements.movement_date = daily_changes.change_date
where movements.movements_change != 0
