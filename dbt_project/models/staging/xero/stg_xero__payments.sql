{{ config(order_by=['workspace_id', 'payment_id']) }}

with

source as (

    {{ exclude_quarantined(source('xero', 'payments'), 'payment_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'payment_id']) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        payment_id,
        {{ json_extract('invoice', 'InvoiceID') }} as invoice_id,
        -- A credit note's cash refund (ARCREDITPAYMENT) is a payment on the credit note.
        {{ json_extract('credit_note', 'CreditNoteID') }} as credit_note_id,
        coalesce({{ json_extract('invoice', 'Contact.ContactID') }}, {{ json_extract('credit_note', 'Contact.ContactID') }}) as contact_id,
        {{ json_extract('account', 'AccountID') }} as account_id,

        ---------- strings
        reference,
        payment_type,
        status,
        {{ normalize_currency("coalesce(" ~ json_extract('invoice', 'CurrencyCode') ~ ", " ~ json_extract('credit_note', 'CurrencyCode') ~ ")") }} as currency,

        ---------- numerics
        -- Raw columns are qualified: ClickHouse resolves a bare name to a SELECT alias first, and
        -- the minor-unit columns below reuse the raw names.
        {{ major_to_minor('deduplicated.amount', "coalesce(" ~ json_extract('invoice', 'CurrencyCode') ~ ", " ~ json_extract('credit_note', 'CurrencyCode') ~ ")") }} as amount,
        toDecimal128(deduplicated.amount, 3) as amount_major,
        currency_rate,

        ---------- booleans
        is_reconciled,
        ifNull(deduplicated.status = 'DELETED', false) as is_deleted,

        ---------- dates
        {{ xero_date('date') }} as payment_date,

        ---------- timestamps
        {{ xero_timestamp('updated_date_utc') }} as updated_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
