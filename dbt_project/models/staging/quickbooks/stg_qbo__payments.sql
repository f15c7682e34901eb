{{ config(order_by=['workspace_id', 'payment_id']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'payments')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as payment_id,
        {{ json_extract('customer_ref', 'value') }} as customer_id,
        -- The first invoice the payment is applied to (revops' books apply one payment to one invoice).
        nullIf(JSONExtractString(ifNull(line, '[]'), 1, 'LinkedTxn', 1, 'TxnId'), '') as invoice_id,
        {{ json_extract('deposit_to_account_ref', 'value') }} as deposit_account_id,

        ---------- strings
        payment_ref_num as payment_reference,
        {{ normalize_currency(json_extract('currency_ref', 'value')) }} as currency,

        ---------- numerics
        {{ major_to_minor('total_amt', json_extract('currency_ref', 'value')) }} as amount,
        {{ major_to_minor('unapplied_amt', json_extract('currency_ref', 'value')) }} as unapplied_amount,
        toDecimal128(total_amt, 3) as amount_major,

        ---------- dates
        toDate32OrNull(txn_date) as payment_date,

        ---------- timestamps
        parseDateTime64BestEffortOrNull({{ json_extract('meta_data', 'CreateTime') }}, 3, 'UTC') as created_at,
        parseDateTime64BestEffortOrNull({{ json_extract('meta_data', 'LastUpdatedTime') }}, 3, 'UTC') as updated_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
