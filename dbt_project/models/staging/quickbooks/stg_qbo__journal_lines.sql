{{ config(order_by=['workspace_id', 'journal_entry_id', 'line_number']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'journal_entries')) }}

),

-- Latest version of each entity, its values from the last version before any deletion.
deduplicated as (

    {{ deduplicate_soft_deleted('source') }}

),

lines as (

    select
        *,
        arrayJoin(arrayEnumerate(JSONExtractArrayRaw(ifNull(line, '[]')))) as line_number,
        JSONExtractArrayRaw(ifNull(line, '[]'))[line_number] as line_json
    from deduplicated

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as journal_entry_id,
        line_number,
        JSONExtractString(line_json, 'JournalEntryLineDetail', 'AccountRef', 'value') as account_id,

        ---------- strings
        doc_number as journal_number,
        JSONExtractString(line_json, 'Description') as description,
        lower(JSONExtractString(line_json, 'JournalEntryLineDetail', 'PostingType')) as posting_type,
        {{ normalize_currency(json_extract('currency_ref', 'value')) }} as currency,

        ---------- numerics
        -- dlt writes nested decimals as JSON strings ("12.30"), the API as numbers: read both exactly.
        toDecimal128OrNull(replaceAll(JSONExtractRaw(line_json, 'Amount'), '"', ''), 9) as line_amount_exact,
        {{ major_to_minor('line_amount_exact', json_extract('currency_ref', 'value')) }} as amount,
        toDecimal128(line_amount_exact, 3) as amount_major,

        ---------- booleans
        is_deleted,

        ---------- dates
        toDate32OrNull(txn_date) as journal_date,

        ---------- timestamps
        parseDateTime64BestEffortOrNull({{ json_extract('meta_data', 'LastUpdatedTime') }}, 3, 'UTC') as updated_at,
        {{ qbo_deleted_at() }} as deleted_at,
        _revops_synced_at

    from lines

)

select * except (line_amount_exact) from renamed
