{{ config(order_by=['workspace_id', 'customer_id', 'currency', 'age_bucket']) }}

-- Open receivables at the as-of date, per customer, currency and age bucket (days past the invoice's
-- due date, or its finalization for invoices charged automatically). Read from the ledger's
-- receivable lines, so it ties to the accounts_receivable balance to the cent.

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

open_invoices as (

    select
        workspace_id,
        invoice_id,
        ifNull(any(customer_id), '') as customer_id,
        currency,
        sum(debit) - sum(credit) as amount_open
    from {{ ref('fct_ledger_entries') }}
    where account = 'accounts_receivable' and invoice_id is not null
    group by workspace_id, invoice_id, currency
    having amount_open != 0

),

aged as (

    select
        open_invoices.workspace_id as workspace_id,
        open_invoices.customer_id as customer_id,
        open_invoices.currency as currency,
        open_invoices.amount_open as amount_open,
        assumeNotNull(toDate(as_of.as_of_at)) as as_of_date,
        greatest(
            dateDiff('day', toDate(coalesce(invoices.due_at, invoices.finalized_at)), toDate(as_of.as_of_at)), 0
        ) as days_past_due,
        multiIf(
            days_past_due = 0, 'current',
            days_past_due <= 30, '1-30',
            days_past_due <= 60, '31-60',
            days_past_due <= 90, '61-90',
            '90+'
        ) as age_bucket
    from open_invoices
    inner join as_of on open_invoices.workspace_id = as_of.workspace_id
    left join {{ ref('stg_stripe__invoices') }} as invoices
        on open_invoices.workspace_id = invoices.workspace_id
        and open_invoices.invoice_id = invoices.invoice_id

),

final as (

    select
        workspace_id,
        as_of_date,
        customer_id,
        currency,
        age_bucket,
        toInt64(sum(amount_open)) as amount_open,
        count() as open_invoices,
        max(days_past_due) as max_days_past_due
    from aged
    group by workspace_id, as_of_date, customer_id, currency, age_bucket

)

select * from final
