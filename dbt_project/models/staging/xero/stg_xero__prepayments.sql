{{ config(order_by=['workspace_id', 'prepayment_id']) }}

-- Money received that no invoice explains yet (Xero Prepayments), one row per prepayment.

with

source as (

    {{ exclude_quarantined(source('xero', 'prepayments'), 'prepayment_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'prepayment_id']) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        prepayment_id,
        {{ json_extract('contact', 'ContactID') }} as contact_id,

        ---------- strings
        type as prepayment_type,
        status as xero_status,
        reference,
        {{ normalize_currency('currency_code') }} as currency,

        ---------- numerics
        -- Raw columns are qualified: ClickHouse resolves a bare name to a SELECT alias first.
        {{ major_to_minor('deduplicated.total', 'currency_code') }} as total,
        {{ major_to_minor('deduplicated.remaining_credit', 'currency_code') }} as remaining_credit,
        {{ major_to_minor(xero_array_sum('allocations'), 'currency_code') }} as amount_allocated,
        toDecimal128(deduplicated.total, 3) as total_major,
        toDecimal128(deduplicated.remaining_credit, 3) as remaining_credit_major,
        currency_rate,

        ---------- dates
        {{ xero_date('date') }} as prepayment_date,

        ---------- timestamps
        {{ xero_timestamp('updated_date_utc') }} as updated_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
