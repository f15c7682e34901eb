{{ config(order_by=['workspace_id', 'refund_receipt_id']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'refund_receipts')) }}

),

-- Latest version of each entity, its values from the last version before any deletion.
deduplicated as (

    {{ deduplicate_soft_deleted('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as refund_receipt_id,
        {{ json_extract('customer_ref', 'value') }} as customer_id,
        {{ json_extract('deposit_to_account_ref', 'value') }} as refund_account_id,

        ---------- strings
        doc_number as refund_number,
        payment_ref_num as payment_reference,
        {{ normalize_currency(json_extract('currency_ref', 'value')) }} as currency,
        private_note,

        ---------- numerics
        {{ major_to_minor('deduplicated.total_amt', json_extract('currency_ref', 'value')) }} as amount,
        toDecimal128(deduplicated.total_amt, 3) as amount_major,

        ---------- dates
        toDate32OrNull(txn_date) as refund_date,

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
