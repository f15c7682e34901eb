{{ config(order_by=['workspace_id', 'source_system', 'invoice_id']) }}

-- Sales invoices from either accounting system, in one shape. `invoice_number` is the document
-- number the bookkeeper copied from Stripe (the key for reconciling against Stripe invoices).
-- Deleted invoices stay, with `is_deleted` (QuickBooks: deleted; Xero: a deleted draft; Xero voids
-- an approved invoice instead, which is `voided`, not deleted).

with

quickbooks as (

    select
        invoices.workspace_id as workspace_id,
        'quickbooks' as source_system,
        invoices.invoice_id as invoice_id,
        invoices.invoice_number as invoice_number,
        invoices.customer_id as customer_id,
        customers.customer_name as customer_name,
        invoices.invoice_date as invoice_date,
        invoices.due_date as due_date,
        invoices.currency as currency,
        invoices.total as total,
        invoices.total_major as total_major,
        invoices.balance as amount_due,
        invoices.balance_major as amount_due_major,
        invoices.status as status,
        invoices.is_deleted as is_deleted,
        invoices.updated_at as updated_at
    from {{ ref('stg_qbo__invoices') }} as invoices
    left join {{ ref('stg_qbo__customers') }} as customers
        on invoices.workspace_id = customers.workspace_id
        and invoices.customer_id = customers.customer_id

),

xero as (

    select
        invoices.workspace_id as workspace_id,
        'xero' as source_system,
        invoices.invoice_id as invoice_id,
        invoices.invoice_number as invoice_number,
        invoices.contact_id as customer_id,
        contacts.contact_name as customer_name,
        invoices.invoice_date as invoice_date,
        invoices.due_date as due_date,
        invoices.currency as currency,
        invoices.total as total,
        invoices.total_major as total_major,
        invoices.amount_due as amount_due,
        invoices.amount_due_major as amount_due_major,
        invoices.status as status,
        invoices.is_deleted as is_deleted,
        invoices.updated_at as updated_at
    from {{ ref('stg_xero__invoices') }} as invoices
    left join {{ ref('stg_xero__contacts') }} as contacts
        on invoices.workspace_id = contacts.workspace_id
        and invoices.contact_id = contacts.contact_id
    -- Sales invoices only: ACCPAY are bills from suppliers.
    where invoices.invoice_type = 'ACCREC'

),

unioned as (

    select * from quickbooks
    union all
    select * from xero

)

select * from unioned
