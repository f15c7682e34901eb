{{ config(order_by=['workspace_id', 'deposit_id']) }}

with

source as (

    {{ exclude_quarantined(source('quickbooks', 'deposits')) }}

),

-- Latest version of each entity, its values from the last version before any deletion.
deduplicated as (

    {{ deduplicate_soft_deleted('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as deposit_id,
        {{ json_extract('deposit_to_account_ref', 'value') }} as bank_account_id,

        ---------- strings
        private_note,
        {{ normalize_currency(json_extract('currency_ref', 'value')) }} as currency,

        ---------- numerics
        {{ major_to_minor('total_amt', json_extract('currency_ref', 'value')) }} as amount,
        toDecimal128(total_amt, 3) as amount_major,

        ---------- dates
        toDate32OrNull(txn_date) as deposit_date,

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
