{{ config(order_by=['workspace_id', 'source_system', 'payment_id']) }}

-- Customer payments applied to invoices, from either accounting system, in one shape.

with

quickbooks as (

    select
        workspace_id,
        'quickbooks' as source_system,
        payment_id,
        invoice_id,
        customer_id,
        deposit_account_id as account_id,
        payment_date,
        currency,
        amount,
        amount_major,
        updated_at
    from {{ ref('stg_qbo__payments') }}

),

xero as (

    select
        workspace_id,
        'xero' as source_system,
        payment_id,
        invoice_id,
        contact_id as customer_id,
        account_id,
        payment_date,
        currency,
        amount,
        amount_major,
        updated_at
    from {{ ref('stg_xero__payments') }}
    -- Receipts against sales invoices; ACCPAYPAYMENT pays a supplier.
    where payment_type = 'ACCRECPAYMENT'

),

unioned as (

    select * from quickbooks
    union all
    select * from xero

)

select * from unioned
