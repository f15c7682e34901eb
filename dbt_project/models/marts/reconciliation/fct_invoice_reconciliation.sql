{{ config(order_by=['workspace_id', 'reconciliation_status']) }}

-- Stripe invoices against the books: one row per Stripe invoice that asks for money (finalized, amount
-- due above zero: bookkeepers skip zero invoices) of a workspace that keeps books, with the books
-- invoice carrying its number, plus books invoices no Stripe invoice explains. Each books invoice is
-- paired at most once (docs/ledger.md).

with

-- Only workspaces that keep books are reconciled against them: without an accounting connection every
-- invoice would be "missing in the books".
books_workspaces as (

    select distinct workspace_id from {{ ref('int_accounting__accounts') }}

),

stripe_invoices as (

    select
        workspace_id,
        invoice_id,
        invoice_number,
        customer_id,
        currency,
        toInt64(amount_due) as amount_due,
        status,
        toDate(paid_at) as paid_date
    from {{ ref('stg_stripe__invoices') }}
    where finalized_at is not null and amount_due > 0 and invoice_number is not null
        and workspace_id in (select workspace_id from books_workspaces)

),

books_invoices as (

    select * from {{ ref('int_accounting__invoices') }}

),

books_payments as (

    select
        workspace_id,
        source_system,
        invoice_id,
        toInt64(sum(amount)) as amount_paid,
        min(payment_date) as first_payment_date,
        max(payment_date) as last_payment_date
    from {{ ref('int_accounting__payments') }}
    group by workspace_id, source_system, invoice_id

),

candidates as (

    select
        stripe_invoices.workspace_id as workspace_id,
        stripe_invoices.invoice_id as invoice_id,
        books_invoices.source_system as source_system,
        books_invoices.invoice_id as books_invoice_id,
        -- A books invoice in the right currency for the right amount is the better partner.
        (books_invoices.currency != stripe_invoices.currency) as currency_differs,
        abs(books_invoices.total - stripe_invoices.amount_due) as amount_gap
    from stripe_invoices
    inner join books_invoices
        on stripe_invoices.workspace_id = books_invoices.workspace_id
        and stripe_invoices.invoice_number = books_invoices.invoice_number

),

pairs as (

    {{ mutual_best_pairs('candidates', 'invoice_id', 'books_invoice_id', 'currency_differs, amount_gap') }}

),

stripe_rows as (

    select
        stripe_invoices.workspace_id as workspace_id,
        stripe_invoices.invoice_id as invoice_id,
        stripe_invoices.invoice_number as invoice_number,
        stripe_invoices.customer_id as customer_id,
        pairs.source_system as source_system,
        pairs.books_invoice_id as books_invoice_id,
        stripe_invoices.status as stripe_status,
        books_invoices.status as books_status,
        stripe_invoices.currency as currency,
        books_invoices.currency as books_currency,
        stripe_invoices.amount_due as stripe_amount,
        books_invoices.total as books_amount,
        stripe_invoices.paid_date as stripe_paid_date,
        books_payments.first_payment_date as books_payment_date,
        multiIf(
            ifNull(pairs.books_invoice_id, '') = '', 'missing_in_books',
            books_invoices.currency != stripe_invoices.currency
                or books_invoices.total != stripe_invoices.amount_due, 'amount_differs',
            stripe_invoices.paid_date is not null and books_payments.first_payment_date is null,
            'payment_missing_in_books',
            stripe_invoices.paid_date is null and books_payments.first_payment_date is not null,
            'payment_missing_in_stripe',
            -- Books are kept in local dates: a day apart is a time zone, not a mistake.
            abs(dateDiff('day', stripe_invoices.paid_date, books_payments.first_payment_date)) > 1,
            'payment_date_differs',
            'matched'
        ) as reconciliation_status
    from stripe_invoices
    left join pairs
        on stripe_invoices.workspace_id = pairs.workspace_id
        and stripe_invoices.invoice_id = pairs.invoice_id
    left join books_invoices
        on pairs.workspace_id = books_invoices.workspace_id
        and pairs.source_system = books_invoices.source_system
        and pairs.books_invoice_id = books_invoices.invoice_id
    left join books_payments
        on pairs.workspace_id = books_payments.workspace_id
        and pairs.source_system = books_payments.source_system
        and pairs.books_invoice_id = books_payments.invoice_id

),

books_only as (

    select
        books_invoices.workspace_id as workspace_id,
        cast(null as Nullable(String)) as invoice_id,
        books_invoices.invoice_number as invoice_number,
        cast(null as Nullable(String)) as customer_id,
        books_invoices.source_system as source_system,
        books_invoices.invoice_id as books_invoice_id,
        cast(null as Nullable(String)) as stripe_status,
        books_invoices.status as books_status,
        cast(null as Nullable(String)) as currency,
        books_invoices.currency as books_currency,
        cast(null as Nullable(Int64)) as stripe_amount,
        books_invoices.total as books_amount,
        cast(null as Nullable(Date)) as stripe_paid_date,
        books_payments.first_payment_date as books_payment_date,
        'missing_in_stripe' as reconciliation_status
    from books_invoices
    left join books_payments
        on books_invoices.workspace_id = books_payments.workspace_id
        and books_invoices.source_system = books_payments.source_system
        and books_invoices.invoice_id = books_payments.invoice_id
    where (books_invoices.workspace_id, books_invoices.source_system, books_invoices.invoice_id)
        not in (select workspace_id, source_system, books_invoice_id from pairs)
        -- Voided or deleted in the books and absent from Stripe: nothing to reconcile.
        and books_invoices.status not in ('voided', 'deleted')

),

unioned as (

    select * from stripe_rows
    union all
    select * from books_only

),

final as (

    select
        ifNull(workspace_id, '') as workspace_id,
        *  except (workspace_id),
        reconciliation_status != 'matched' as is_flagged,
        books_amount - stripe_amount as amount_difference,
        dateDiff('day', stripe_paid_date, books_payment_date) as payment_days_apart
    from unioned

)

select * from final
