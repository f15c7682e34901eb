{{ config(order_by=['workspace_id', 'manual_journal_id', 'line_number']) }}

with

source as (

    {{ exclude_quarantined(source('xero', 'manual_journals'), 'manual_journal_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'manual_journal_id']) }}

),

lines as (

    select
        *,
        arrayJoin(arrayEnumerate(JSONExtractArrayRaw(ifNull(journal_lines, '[]')))) as line_number,
        JSONExtractArrayRaw(ifNull(journal_lines, '[]'))[line_number] as line_json
    from deduplicated

),

renamed as (

    select
        ---------- ids
        workspace_id,
        manual_journal_id,
        line_number,

        ---------- strings
        JSONExtractString(line_json, 'AccountCode') as account_code,
        nullIf(JSONExtractString(line_json, 'Description'), '') as description,
        narration,
        status,

        ---------- numerics
        -- Signed like Xero: debits positive, credits negative. Manual journals are in the
        -- organisation's base currency, which int_accounting__journal_lines supplies.
        -- dlt writes nested decimals as JSON strings ("12.30"), the API as numbers: read both exactly.
        toDecimal128OrNull(replaceAll(JSONExtractRaw(line_json, 'LineAmount'), '"', ''), 9) as line_amount,

        ---------- dates
        {{ xero_date('date') }} as journal_date,

        ---------- timestamps
        {{ xero_timestamp('updated_date_utc') }} as updated_at,
        _revops_synced_at

    from lines

)

select * from renamed
