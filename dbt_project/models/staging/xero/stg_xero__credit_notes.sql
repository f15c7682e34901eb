{{ config(order_by=['workspace_id', 'credit_note_id']) }}

with

source as (

    {{ exclude_quarantined(source('xero', 'credit_notes'), 'credit_note_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'credit_note_id']) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        credit_note_id,
        {{ json_extract('contact', 'ContactID') }} as contact_id,

        ---------- strings
        credit_note_number,
        reference,
        type as credit_note_type,
        status as xero_status,
        {{ normalize_currency('currency_code') }} as currency,
        -- The account of the first line: revenue for a service credit, bad debts for a write-off.
        JSONExtractString(ifNull(line_items, '[]'), 1, 'AccountCode') as line_account_code,

        ---------- numerics
        -- Raw columns are qualified: ClickHouse resolves a bare name to a SELECT alias first.
        {{ major_to_minor('deduplicated.total', 'currency_code') }} as total,
        {{ major_to_minor('deduplicated.remaining_credit', 'currency_code') }} as remaining_credit,
        -- Allocated to invoices and paid back in cash (each array element has an exact Amount).
        {{ major_to_minor(xero_array_sum('allocations'), 'currency_code') }} as amount_allocated,
        {{ major_to_minor(xero_array_sum('payments'), 'currency_code') }} as amount_refunded,
        toDecimal128(deduplicated.total, 3) as total_major,
        toDecimal128(deduplicated.remaining_credit, 3) as remaining_credit_major,
        currency_rate,

        ---------- booleans
        ifNull(deduplicated.status = 'DELETED', false) as is_deleted,

        ---------- dates
        {{ xero_date('date') }} as credit_note_date,

        ---------- timestamps
        {{ xero_timestamp('updated_date_utc') }} as updated_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
