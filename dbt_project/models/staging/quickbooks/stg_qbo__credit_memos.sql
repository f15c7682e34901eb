{{ config(order_by=['workspace_id', 'credit_memo_id']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'credit_memos')) }}

),

-- Latest version of each entity, its values from the last version before any deletion.
deduplicated as (

    {{ deduplicate_soft_deleted('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as credit_memo_id,
        {{ json_extract('customer_ref', 'value') }} as customer_id,
        -- The invoice the credit was issued against (InvoiceRef), when the bookkeeper set it.
        {{ json_extract('invoice_ref', 'value') }} as invoice_id,

        ---------- strings
        doc_number as credit_memo_number,
        {{ normalize_currency(json_extract('currency_ref', 'value')) }} as currency,
        private_note,
        -- The account of the first line (ItemAccountRef): income for a service credit, a bad-debt
        -- expense for a write-off.
        JSONExtractString(ifNull(line, '[]'), 1, 'SalesItemLineDetail', 'ItemAccountRef', 'value') as line_account_id,

        ---------- numerics
        -- Raw columns are qualified: ClickHouse resolves a bare name to a SELECT alias first.
        {{ major_to_minor('deduplicated.total_amt', json_extract('currency_ref', 'value')) }} as total,
        {{ major_to_minor('deduplicated.remaining_credit', json_extract('currency_ref', 'value')) }} as remaining_credit,
        toDecimal128(deduplicated.total_amt, 3) as total_major,
        toDecimal128(deduplicated.remaining_credit, 3) as remaining_credit_major,

        ---------- dates
        toDate32OrNull(txn_date) as credit_date,

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
