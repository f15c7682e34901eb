{{ config(order_by=['workspace_id', 'credit_note_id', 'allocation_number']) }}

-- Each allocation of a credit note to an invoice, from the latest version of the credit note.

with

source as (

    {{ exclude_quarantined(source('xero', 'credit_notes'), 'credit_note_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'credit_note_id']) }}

),

allocations as (

    select
        *,
        arrayJoin(arrayEnumerate(JSONExtractArrayRaw(ifNull(deduplicated.allocations, '[]')))) as allocation_number,
        JSONExtractArrayRaw(ifNull(deduplicated.allocations, '[]'))[allocation_number] as allocation_json
    from deduplicated

),

renamed as (

    select
        ---------- ids
        workspace_id,
        credit_note_id,
        allocation_number,
        nullIf(JSONExtractString(allocation_json, 'AllocationID'), '') as allocation_id,
        nullIf(JSONExtractString(allocation_json, 'Invoice', 'InvoiceID'), '') as invoice_id,

        ---------- strings
        nullIf(JSONExtractString(allocation_json, 'Invoice', 'InvoiceNumber'), '') as invoice_number,
        {{ normalize_currency('currency_code') }} as currency,

        ---------- numerics
        -- dlt writes nested decimals as JSON strings ("12.30"), the API as numbers: read both exactly.
        toDecimal128OrNull(replaceAll(JSONExtractRaw(allocation_json, 'Amount'), '"', ''), 9) as amount_exact,
        {{ major_to_minor('amount_exact', 'currency_code') }} as amount,
        toDecimal128(amount_exact, 3) as amount_major,

        ---------- dates
        {{ xero_date("JSONExtractString(allocation_json, 'Date')") }} as allocation_date,

        ---------- timestamps
        {{ xero_timestamp('updated_date_utc') }} as updated_at,
        _revops_synced_at

    from allocations

)

select * except (amount_exact) from renamed
