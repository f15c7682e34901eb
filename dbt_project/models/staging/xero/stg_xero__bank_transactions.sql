{{ config(order_by=['workspace_id', 'bank_transaction_id']) }}

with

source as (

    {{ exclude_quarantined(source('xero', 'bank_transactions'), 'bank_transaction_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'bank_transaction_id']) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        bank_transaction_id,
        {{ json_extract('bank_account', 'AccountID') }} as bank_account_id,

        ---------- strings
        type as transaction_type,
        reference,
        status,
        {{ json_extract('contact', 'Name') }} as contact_name,
        {{ normalize_currency('currency_code') }} as currency,

        ---------- numerics
        -- Raw columns are qualified: ClickHouse resolves a bare name to a SELECT alias first, and
        -- the minor-unit columns below reuse the raw names.
        {{ major_to_minor('deduplicated.total', 'currency_code') }} as total,
        toDecimal128(deduplicated.total, 3) as total_major,

        ---------- booleans
        is_reconciled,

        ---------- dates
        {{ xero_date('date') }} as transaction_date,

        ---------- timestamps
        {{ xero_timestamp('updated_date_utc') }} as updated_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
