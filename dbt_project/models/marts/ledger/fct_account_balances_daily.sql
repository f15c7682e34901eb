{{ config(order_by=['workspace_id', 'account', 'sub_account', 'currency', 'balance_date']) }}

-- Trial balance: for every account (and sub-account) of each workspace, per currency and day from its
-- first entry to the as-of date, the day's debits and credits and the closing balance (debits minus
-- credits, so liabilities, equity and revenue are negative in their normal state).

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

chart as (

    select * from {{ ref('ledger_chart_of_accounts') }}

),

daily as (

    select
        workspace_id,
        account,
        sub_account,
        currency,
        toDate(occurred_at) as balance_date,
        sum(debit) as debits,
        sum(credit) as credits
    from {{ ref('fct_ledger_entries') }}
    group by workspace_id, account, sub_account, currency, balance_date

),

calendar as (

    select
        spans.workspace_id as workspace_id,
        spans.account as account,
        spans.sub_account as sub_account,
        spans.currency as currency,
        addDays(spans.first_date, arrayJoin(range(toUInt32(dateDiff('day', spans.first_date, toDate(as_of.as_of_at))) + 1)))
            as balance_date
    from (
        select workspace_id, account, sub_account, currency, min(balance_date) as first_date
        from daily
        group by workspace_id, account, sub_account, currency
    ) as spans
    inner join as_of on spans.workspace_id = as_of.workspace_id

),

final as (

    select
        calendar.workspace_id as workspace_id,
        calendar.balance_date as balance_date,
        calendar.account as account,
        calendar.sub_account as sub_account,
        chart.account_class as account_class,
        calendar.currency as currency,
        toInt64(ifNull(daily.debits, 0)) as debits,
        toInt64(ifNull(daily.credits, 0)) as credits,
        toInt64(sum(toInt64(ifNull(daily.debits, 0)) - toInt64(ifNull(daily.credits, 0))) over (
            partition by calendar.workspace_id, calendar.account, calendar.sub_account, calendar.currency
            order by calendar.balance_date
            rows between unbounded preceding and current row
        )) as balance
    from calendar
    left join daily
        on calendar.workspace_id = daily.workspace_id
        and calendar.account = daily.account
        and calendar.sub_account = daily.sub_account
        and calendar.currency = daily.currency
        and calendar.balance_date = daily.balance_date
    left join chart on calendar.account = chart.account

)

select * from final
