{{ config(order_by=['workspace_id', 'source_system', 'credit_kind', 'credit_note_id']) }}

-- Credits to customers from either accounting system, in one shape: QuickBooks credit memos and
-- refund receipts, Xero sales credit notes (ACCRECCREDIT). What became of each credit: applied to
-- invoices, refunded in cash, or still open as customer credit. `invoice_id` is the invoice it
-- concerns: QuickBooks' InvoiceRef, else the invoice a zero payment applied it to; Xero's first
-- allocation. A write-off of bad debt is a credit too (`is_write_off`: booked to a bad-debt account).

with

qbo_accounts as (

    select * from {{ ref('stg_qbo__accounts') }}

),

qbo_applications as (

    select workspace_id, credit_memo_id, any(invoice_id) as invoice_id
    from {{ ref('stg_qbo__payments') }}
    where is_credit_application and not is_deleted
    group by workspace_id, credit_memo_id

),

credit_memos as (

    select
        memos.workspace_id as workspace_id,
        'quickbooks' as source_system,
        memos.credit_memo_id as credit_note_id,
        'credit_memo' as credit_kind,
        memos.credit_memo_number as credit_note_number,
        memos.customer_id as customer_id,
        coalesce(memos.invoice_id, nullIf(applications.invoice_id, '')) as invoice_id,
        memos.credit_date as credit_date,
        memos.currency as currency,
        memos.total as total,
        memos.total_major as total_major,
        -- QBO keeps what is left; the rest was applied (credit memos are refunded through a refund
        -- receipt, a separate entity).
        toInt64(memos.total - ifNull(memos.remaining_credit, 0)) as amount_applied,
        toInt64(0) as amount_refunded,
        toInt64(ifNull(memos.remaining_credit, 0)) as remaining_credit,
        ifNull(accounts.account_sub_type = 'BadDebts', false) as is_write_off,
        memos.is_deleted as is_deleted,
        memos.updated_at as updated_at
    from {{ ref('stg_qbo__credit_memos') }} as memos
    left join qbo_applications as applications
        on memos.workspace_id = applications.workspace_id
        and memos.credit_memo_id = applications.credit_memo_id
    left join qbo_accounts as accounts
        on memos.workspace_id = accounts.workspace_id
        and memos.line_account_id = accounts.account_id

),

refund_receipts as (

    select
        workspace_id,
        'quickbooks' as source_system,
        refund_receipt_id as credit_note_id,
        'refund_receipt' as credit_kind,
        refund_number as credit_note_number,
        customer_id,
        cast(null as Nullable(String)) as invoice_id,
        refund_date as credit_date,
        currency,
        amount as total,
        amount_major as total_major,
        toInt64(0) as amount_applied,
        toInt64(amount) as amount_refunded,
        toInt64(0) as remaining_credit,
        false as is_write_off,
        is_deleted,
        updated_at
    from {{ ref('stg_qbo__refund_receipts') }}

),

xero_first_allocations as (

    select workspace_id, credit_note_id, argMin(invoice_id, allocation_number) as invoice_id
    from {{ ref('stg_xero__credit_note_allocations') }}
    group by workspace_id, credit_note_id

),

xero_accounts as (

    select * from {{ ref('stg_xero__accounts') }}

),

credit_notes as (

    select
        notes.workspace_id as workspace_id,
        'xero' as source_system,
        notes.credit_note_id as credit_note_id,
        'credit_note' as credit_kind,
        notes.credit_note_number as credit_note_number,
        notes.contact_id as customer_id,
        nullIf(allocations.invoice_id, '') as invoice_id,
        notes.credit_note_date as credit_date,
        notes.currency as currency,
        notes.total as total,
        notes.total_major as total_major,
        toInt64(notes.amount_allocated) as amount_applied,
        toInt64(notes.amount_refunded) as amount_refunded,
        toInt64(ifNull(notes.remaining_credit, 0)) as remaining_credit,
        ifNull(positionCaseInsensitive(accounts.account_name, 'bad debt') > 0, false) as is_write_off,
        notes.is_deleted as is_deleted,
        notes.updated_at as updated_at
    from {{ ref('stg_xero__credit_notes') }} as notes
    left join xero_first_allocations as allocations
        on notes.workspace_id = allocations.workspace_id
        and notes.credit_note_id = allocations.credit_note_id
    left join xero_accounts as accounts
        on notes.workspace_id = accounts.workspace_id
        and notes.line_account_code = accounts.account_code
    -- Credits to customers; ACCPAYCREDIT is a supplier's credit.
    where notes.credit_note_type = 'ACCRECCREDIT'

),

unioned as (

    select * from credit_memos
    union all
    select * from refund_receipts
    union all
    select * from credit_notes

)

select * from unioned
