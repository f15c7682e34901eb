{{ config(order_by=['workspace_id', 'invoice_id']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'invoices')) }}

),

-- Latest version of each entity, its values from the last version before any deletion.
deduplicated as (

    {{ deduplicate_soft_deleted('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as invoice_id,
        {{ json_extract('customer_ref', 'value') }} as customer_id,

        ---------- strings
        doc_number as invoice_number,
        -- QBO has no invoice status: it follows from the open balance (paid or credited in full
        -- leaves none); a voided invoice keeps QBO's "Voided" memo; a deleted one is gone from QBO.
        multiIf(
            is_deleted, 'deleted',
            startsWith(ifNull(private_note, ''), 'Voided'), 'voided',
            deduplicated.balance = 0, 'paid',
            deduplicated.balance < deduplicated.total_amt, 'partially_paid',
            'open'
        ) as status,
        {{ normalize_currency(json_extract('currency_ref', 'value')) }} as currency,
        private_note,

        ---------- numerics
        -- Raw columns are qualified: ClickHouse resolves a bare name to a SELECT alias first, and
        -- the minor-unit columns below reuse the raw names.
        -- Exact (Decimal times a power of ten) with ISO 4217 minor units: QBO and Xero send major units.
        {{ major_to_minor('total_amt', json_extract('currency_ref', 'value')) }} as total,
        {{ major_to_minor('deduplicated.balance', json_extract('currency_ref', 'value')) }} as balance,
        toDecimal128(total_amt, 3) as total_major,
        toDecimal128(deduplicated.balance, 3) as balance_major,

        ---------- dates
        toDate32OrNull(txn_date) as invoice_date,
        toDate32OrNull(due_date) as due_date,

        ---------- booleans
        is_deleted,

        ---------- timestamps
        parseDateTime64BestEffortOrNull({{ json_extract('meta_data', 'CreateTime') }}, 3, 'UTC') as created_at,
        parseDateTime64BestEffortOrNull({{ json_extract('meta_data', 'LastUpdatedTime') }}, 3, 'UTC') as updated_at,
        {{ qbo_deleted_at() }} as deleted_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
