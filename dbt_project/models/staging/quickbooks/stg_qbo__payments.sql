{{ config(order_by=['workspace_id', 'payment_id']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'payments')) }}

),

-- Latest version of each entity, its values from the last version before any deletion.
deduplicated as (

    {{ deduplicate_soft_deleted('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as payment_id,
        {{ json_extract('customer_ref', 'value') }} as customer_id,
        -- The first invoice the payment is applied to (revops' books apply one payment to one invoice),
        -- and the credit memo it applies, if any: QBO applies a credit memo to an invoice with a
        -- payment of zero whose lines link both.
        {{ qbo_linked_txn('line', 'Invoice') }} as invoice_id,
        {{ qbo_linked_txn('line', 'CreditMemo') }} as credit_memo_id,
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

        ---------- booleans
        deduplicated.total_amt = 0 and {{ qbo_linked_txn('line', 'CreditMemo') }} is not null as is_credit_application,
        is_deleted,

        ---------- timestamps
        parseDateTime64BestEffortOrNull({{ json_extract('meta_data', 'CreateTime') }}, 3, 'UTC') as created_at,
        parseDateTime64BestEffortOrNull({{ json_extract('meta_data', 'LastUpdatedTime') }}, 3, 'UTC') as updated_at,
        {{ qbo_deleted_at() }} as deleted_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
