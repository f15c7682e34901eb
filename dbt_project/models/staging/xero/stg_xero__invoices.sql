{{ config(order_by=['workspace_id', 'invoice_id']) }}

with

source as (

    {{ exclude_quarantined(source('xero', 'invoices'), 'invoice_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'invoice_id']) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        invoice_id,
        {{ json_extract('contact', 'ContactID') }} as contact_id,

        ---------- strings
        invoice_number,
        reference,
        type as invoice_type,
        status as xero_status,
        multiIf(
            deduplicated.status = 'DELETED', 'deleted',
            deduplicated.status = 'PAID', 'paid',
            deduplicated.status = 'VOIDED', 'voided',
            deduplicated.status in ('DRAFT', 'SUBMITTED'), 'draft',
            deduplicated.amount_paid > 0, 'partially_paid',
            'open'
        ) as status,
        {{ normalize_currency('currency_code') }} as currency,

        ---------- numerics
        -- Raw columns are qualified: ClickHouse resolves a bare name to a SELECT alias first, and
        -- the minor-unit columns below reuse the raw names.
        -- Exact (Decimal times a power of ten) with ISO 4217 minor units: QBO and Xero send major units.
        {{ major_to_minor('deduplicated.total', 'currency_code') }} as total,
        {{ major_to_minor('deduplicated.amount_due', 'currency_code') }} as amount_due,
        {{ major_to_minor('deduplicated.amount_paid', 'currency_code') }} as amount_paid,
        {{ major_to_minor('deduplicated.amount_credited', 'currency_code') }} as amount_credited,
        toDecimal128(deduplicated.total, 3) as total_major,
        toDecimal128(deduplicated.amount_due, 3) as amount_due_major,
        toDecimal128(deduplicated.amount_paid, 3) as amount_paid_major,
        toDecimal128(deduplicated.amount_credited, 3) as amount_credited_major,

        ---------- booleans
        -- Xero deletes only drafts; an approved invoice is voided instead and stays voided.
        ifNull(deduplicated.status = 'DELETED', false) as is_deleted,

        ---------- dates
        {{ xero_date('date') }} as invoice_date,
        {{ xero_date('due_date') }} as due_date,

        ---------- timestamps
        {{ xero_timestamp('updated_date_utc') }} as updated_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
