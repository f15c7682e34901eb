{{ config(order_by=['workspace_id', 'source_object_id', 'posting_rule', 'posting_key', 'line_key']) }}

-- Ledger lines for Stripe invoices, in the invoice currency: finalization (receivable, revenue or
-- deferred revenue per line, customer credit used or granted, tax), monthly recognition of deferred
-- revenue, and the reversals a later void or write-off adds. Amounts are signed: debit positive.

with

invoices as (

    select
        workspace_id,
        invoice_id,
        customer_id,
        currency,
        finalized_at,
        if(status = 'void', voided_at, null) as voided_at,
        if(status = 'uncollectible', marked_uncollectible_at, null) as written_off_at,
        toInt64(ifNull(amount_due, 0)) as amount_due,
        toInt64(ifNull(amount_remaining, 0)) as amount_remaining,
        toInt64(ifNull(total_tax, 0)) as total_tax,
        -- Customer balance change: negative when the invoice grants credit, positive when it uses it.
        toInt64(coalesce(ending_balance, starting_balance, 0) - ifNull(starting_balance, 0)) as credit_change
    from {{ ref('stg_stripe__invoices') }}
    where finalized_at is not null and status in ('open', 'paid', 'uncollectible', 'void')

),

invoice_lines as (

    select
        invoices.workspace_id as workspace_id,
        invoices.invoice_id as invoice_id,
        lines.invoice_line_id as invoice_line_id,
        -- Revenue is net of discounts and of the tax a tax-inclusive amount contains.
        toInt64(
            ifNull(lines.amount, 0) - ifNull(lines.discount_amount, 0) - ifNull(lines.inclusive_tax_amount, 0)
        ) as amount,
        lines.period_start_at as period_start_at,
        lines.period_end_at as period_end_at,
        -- Service periods longer than a month (annual plans) are earned month by month.
        ifNull(dateDiff('day', lines.period_start_at, lines.period_end_at) > 31, false) as is_deferred
    from invoices
    inner join {{ ref('stg_stripe__invoice_lines') }} as lines
        on invoices.workspace_id = lines.workspace_id
        and invoices.invoice_id = lines.invoice_id

),

line_totals as (

    select workspace_id, invoice_id, sum(amount) as amount
    from invoice_lines
    group by workspace_id, invoice_id

),

finalization as (

    select
        invoices.workspace_id as workspace_id,
        invoices.invoice_id as invoice_id,
        line.1 as line_key,
        line.2 as account,
        line.3 as amount
    from invoices
    left join line_totals
        on invoices.workspace_id = line_totals.workspace_id
        and invoices.invoice_id = line_totals.invoice_id
    array join [
        ('receivable', 'accounts_receivable', invoices.amount_due),
        ('customer_credit', 'customer_credit', invoices.credit_change),
        ('tax', 'sales_tax_payable', -invoices.total_tax),
        -- Whatever the lines, tax and credit do not explain (nothing, for a consistent invoice).
        (
            'unexplained',
            'suspense',
            -(invoices.amount_due + invoices.credit_change - invoices.total_tax - ifNull(line_totals.amount, 0))
        )
    ] as line

    union all

    select
        workspace_id,
        invoice_id,
        invoice_line_id as line_key,
        if(is_deferred, 'deferred_revenue', 'revenue') as account,
        -amount as amount
    from invoice_lines

),

-- Deferred lines are earned pro rata over their period, at each month end and at the period's end.
-- Cumulative integer shares make the recognized parts add up to the line exactly.
recognition_schedule as (

    select
        workspace_id,
        invoice_id,
        invoice_line_id,
        amount,
        arraySort(arrayConcat(
            arrayFilter(
                point -> point > period_start_at and point < period_end_at,
                arrayMap(
                    months -> toDateTime64(addMonths(toStartOfMonth(period_start_at), months), 3, 'UTC'),
                    range(1, toUInt32(dateDiff('month', period_start_at, period_end_at)) + 1)
                )
            ),
            [period_end_at]
        )) as points,
        arrayMap(
            point -> toInt64(intDiv(
                toInt128(amount) * (toUnixTimestamp64Milli(point) - toUnixTimestamp64Milli(period_start_at)),
                toUnixTimestamp64Milli(period_end_at) - toUnixTimestamp64Milli(period_start_at)
            )),
            points
        ) as cumulative
    from invoice_lines
    where is_deferred

),

recognition as (

    select
        schedule.workspace_id as workspace_id,
        schedule.invoice_id as invoice_id,
        schedule.invoice_line_id as invoice_line_id,
        -- Earned up to the last instant before the boundary; never before the invoice existed.
        greatest(step.1 - interval 1 millisecond, invoices.finalized_at) as occurred_at,
        step.2 as amount
    from recognition_schedule as schedule
    inner join invoices
        on schedule.workspace_id = invoices.workspace_id
        and schedule.invoice_id = invoices.invoice_id
    array join arrayZip(
        schedule.points,
        arrayMap((total, index) -> total - if(index = 1, 0, schedule.cumulative[index - 1]),
            schedule.cumulative, arrayEnumerate(schedule.cumulative))
    ) as step
    -- A voided invoice earns nothing after its void.
    where invoices.voided_at is null or occurred_at < invoices.voided_at

),

recognition_lines as (

    select
        recognition.workspace_id as workspace_id,
        recognition.invoice_id as invoice_id,
        'invoice_revenue_recognition' as posting_rule,
        recognition.invoice_line_id || '@' || formatDateTime(recognition.occurred_at, '%Y-%m-%d') as posting_key,
        line.1 as line_key,
        recognition.occurred_at as occurred_at,
        line.2 as account,
        line.3 as amount
    from recognition
    array join [('deferred', 'deferred_revenue', recognition.amount), ('earned', 'revenue', -recognition.amount)]
        as line

),

postings as (

    select
        finalization.workspace_id as workspace_id,
        finalization.invoice_id as invoice_id,
        'invoice_finalization' as posting_rule,
        '' as posting_key,
        finalization.line_key as line_key,
        invoices.finalized_at as occurred_at,
        finalization.account as account,
        finalization.amount as amount
    from finalization
    inner join invoices
        on finalization.workspace_id = invoices.workspace_id
        and finalization.invoice_id = invoices.invoice_id

    union all

    select * from recognition_lines

),

-- A void reverses everything the invoice posted before it, line by line.
voids as (

    select
        postings.workspace_id as workspace_id,
        postings.invoice_id as invoice_id,
        'invoice_void' as posting_rule,
        '' as posting_key,
        postings.posting_rule || ':' || postings.posting_key || ':' || postings.line_key as line_key,
        invoices.voided_at as occurred_at,
        postings.account as account,
        -postings.amount as amount
    from postings
    inner join invoices
        on postings.workspace_id = invoices.workspace_id
        and postings.invoice_id = invoices.invoice_id
    where invoices.voided_at is not null and postings.occurred_at <= invoices.voided_at

),

write_offs as (

    select
        invoices.workspace_id as workspace_id,
        invoices.invoice_id as invoice_id,
        'invoice_write_off' as posting_rule,
        '' as posting_key,
        line.1 as line_key,
        invoices.written_off_at as occurred_at,
        line.2 as account,
        line.3 as amount
    from invoices
    array join [
        ('bad_debt', 'bad_debt', invoices.amount_remaining),
        ('receivable', 'accounts_receivable', -invoices.amount_remaining)
    ] as line
    where invoices.written_off_at is not null

),

all_postings as (

    select * from postings
    union all
    select * from voids
    union all
    select * from write_offs

),

final as (

    select
        ifNull(all_postings.workspace_id, '') as workspace_id,
        'stripe' as source_system,
        ifNull(all_postings.invoice_id, '') as source_object_id,
        all_postings.posting_rule as posting_rule,
        ifNull(all_postings.posting_key, '') as posting_key,
        ifNull(all_postings.line_key, '') as line_key,
        all_postings.occurred_at as occurred_at,
        all_postings.account as account,
        '' as sub_account,
        invoices.currency as currency,
        all_postings.amount as amount,
        invoices.customer_id as customer_id,
        all_postings.invoice_id as invoice_id,
        cast(null as Nullable(String)) as description
    from all_postings
    inner join invoices
        on all_postings.workspace_id = invoices.workspace_id
        and all_postings.invoice_id = invoices.invoice_id
    -- A zero line records nothing (an invoice without tax or credit).
    where all_postings.amount != 0

)

select * from final
