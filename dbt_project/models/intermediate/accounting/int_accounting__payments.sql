{{ config(order_by=['workspace_id', 'source_system', 'payment_id']) }}

-- Money received from customers, from either accounting system, in one shape: receipts applied to
-- an invoice (`invoice_payment`) and receipts no invoice explains yet (`unapplied_receipt`: a
-- QuickBooks payment left unapplied, a Xero overpayment or prepayment). Not payments: QuickBooks'
-- zero payments that apply a credit memo to an invoice (see int_accounting__credit_notes) and
-- Xero's cash refunds of credit notes (money out).

with

quickbooks as (

    select
        workspace_id,
        'quickbooks' as source_system,
        payment_id,
        if(invoice_id is null and unapplied_amount = amount, 'unapplied_receipt', 'invoice_payment') as payment_kind,
        invoice_id,
        customer_id,
        deposit_account_id as account_id,
        payment_date,
        currency,
        amount,
        amount_major,
        is_deleted,
        updated_at
    from {{ ref('stg_qbo__payments') }}
    where not is_credit_application

),

xero_payments as (

    select
        workspace_id,
        'xero' as source_system,
        payment_id,
        'invoice_payment' as payment_kind,
        invoice_id,
        contact_id as customer_id,
        account_id,
        payment_date,
        currency,
        amount,
        amount_major,
        is_deleted,
        updated_at
    from {{ ref('stg_xero__payments') }}
    -- Receipts against sales invoices; ACCPAYPAYMENT pays a supplier, ARCREDITPAYMENT refunds a credit note.
    where payment_type = 'ACCRECPAYMENT'

),

xero_receipts as (

    {% for kind in ['overpayment', 'prepayment'] %}
    select
        workspace_id,
        'xero' as source_system,
        {{ kind }}_id as payment_id,
        'unapplied_receipt' as payment_kind,
        cast(null as Nullable(String)) as invoice_id,
        contact_id as customer_id,
        cast(null as Nullable(String)) as account_id,
        {{ kind }}_date as payment_date,
        currency,
        total as amount,
        total_major as amount_major,
        false as is_deleted,
        updated_at
    from {{ ref('stg_xero__' ~ kind ~ 's') }}
    where {{ kind }}_type = 'RECEIVE-{{ kind | upper }}'
    {{ 'union all' if not loop.last }}
    {% endfor %}

),

unioned as (

    select * from quickbooks
    union all
    select * from xero_payments
    union all
    select * from xero_receipts

)

select * from unioned
