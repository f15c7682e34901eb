{{ config(materialized='view', tags=['usage_daily']) }}

-- Every service period of every subscription, as its plan (licensed) invoice lines bill it: the
-- windows usage is totalled over and metered prices bill in arrears.

with

plan_lines as (

    select lines.*
    from {{ ref('stg_stripe__invoice_lines') }} as lines
    inner join {{ ref('stg_stripe__prices') }} as prices
        on prices.workspace_id = lines.workspace_id and prices.price_id = lines.price_id
    where not ifNull(lines.is_proration, false) and prices.recurring_usage_type = 'licensed'

),

final as (

    select distinct
        plan_lines.workspace_id as workspace_id,
        plan_lines.subscription_id as subscription_id,
        subscriptions.customer_id as customer_id,
        plan_lines.period_start_at as period_start_at,
        plan_lines.period_end_at as period_end_at,
        -- Days wholly inside [start, end): from the first midnight at or after the start.
        if(toStartOfDay(period_start_at) = period_start_at, toDate(period_start_at), toDate(period_start_at) + 1)
            as first_full_date,
        toDate(period_end_at) as end_date
    from plan_lines
    inner join {{ ref('stg_stripe__subscriptions') }} as subscriptions
        on subscriptions.workspace_id = plan_lines.workspace_id
        and subscriptions.subscription_id = plan_lines.subscription_id
    where plan_lines.period_end_at > plan_lines.period_start_at

)

select * from final
