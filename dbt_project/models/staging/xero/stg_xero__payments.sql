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
        {{ json_extract('invoice', 'Contact.ContactID') }} as contact_id,
        {{ json_extract('account', 'AccountID') }} as account_id,

        ---------- strings
        reference,
        payment_type,
        status,
        {{ normalize_currency(json_extract('invoice', 'CurrencyCode')) }} as currency,

        ---------- numerics
        -- Raw columns are qualified: ClickHouse resolves a bare name to a SELECT alias first, and
        -- the minor-unit columns below reuse the raw names.
        {{ major_to_minor('deduplicated.amount', json_extract('invoice', 'CurrencyCode')) }} as amount,
        toDecimal128(deduplicated.amount, 3) as amount_major,
        currency_rate,

        ---------- booleans
        is_reconciled,

        ---------- dates
        toDate32(fromUnixTimestamp64Milli(toInt64OrNull(extract(ifNull(date, ''), '^/Date\\((-?[0-9]+)')), 'UTC')) as payment_date,

        ---------- timestamps
        fromUnixTimestamp64Milli(toInt64OrNull(extract(ifNull(updated_date_utc, ''), '^/Date\\((-?[0-9]+)')), 'UTC') as updated_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
