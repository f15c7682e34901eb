{{ config(order_by=['workspace_id', 'transaction_id']) }}

with

source as (

    {{ exclude_quarantined(source('plaid', 'transactions'), 'transaction_id') }}

),

-- The latest version of each transaction decides whether it is removed.
deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'transaction_id']) }}

),

-- A removal carries only ids, so a removed transaction's other columns come from its last
-- version that was not a removal.
last_known as (

    select * from source
    where not ifNull(is_removed, false)

),

last_known_deduplicated as (

    {{ deduplicate_latest('last_known', key_columns=['workspace_id', 'transaction_id']) }}

),

joined as (

    select
        latest.workspace_id as workspace_id,
        latest.transaction_id as transaction_id,
        coalesce(known.account_id, latest.account_id) as account_id,
        coalesce(known.item_id, latest.item_id) as item_id,
        known.pending_transaction_id as pending_transaction_id,
        known.name as name,
        known.merchant_name as merchant_name,
        known.payment_channel as payment_channel,
        known.transaction_code as transaction_code,
        known.transaction_type as transaction_type,
        known.personal_finance_category as personal_finance_category,
        known.iso_currency_code as iso_currency_code,
        known.unofficial_currency_code as unofficial_currency_code,
        known.amount as amount,
        known.pending as pending,
        ifNull(latest.is_removed, false) as is_removed,
        known.date as date,
        known.authorized_date as authorized_date,
        known.datetime as datetime,
        known.authorized_datetime as authorized_datetime,
        latest._revops_synced_at as _revops_synced_at
    from deduplicated as latest
    -- Keys are unique on both sides; the right side's columns are Nullable, so a transaction
    -- never seen before its removal reads NULL, not defaults.
    left join last_known_deduplicated as known
        on latest.workspace_id = known.workspace_id
        and latest.transaction_id = known.transaction_id

),

renamed as (

    select
        ---------- ids
        workspace_id,
        transaction_id,
        account_id,
        item_id,
        pending_transaction_id,

        ---------- strings
        name as transaction_name,
        merchant_name,
        payment_channel,
        transaction_code,
        transaction_type,
        {{ json_extract('joined.personal_finance_category', 'primary') }} as personal_finance_category_primary,
        {{ json_extract('joined.personal_finance_category', 'detailed') }} as personal_finance_category_detailed,
        {{ json_extract('joined.personal_finance_category', 'confidence_level') }} as personal_finance_category_confidence,
        -- Plaid sets exactly one of the two; an unofficial code (crypto assets) is not ISO 4217.
        coalesce(
            {{ normalize_currency('joined.iso_currency_code') }},
            {{ normalize_currency('joined.unofficial_currency_code') }}
        ) as currency,

        ---------- numerics
        -- Plaid: positive = money out of the account. Here: money in positive. Minor units only
        -- for ISO codes, whose exponent is known; the major amount is Plaid's exact decimal.
        {{ major_to_minor('-joined.amount', 'joined.iso_currency_code') }} as amount,
        -joined.amount as amount_major,

        ---------- booleans
        joined.pending as is_pending,
        joined.is_removed as is_removed,

        ---------- dates and timestamps
        toDate(joined.date) as transaction_date,
        toDate(joined.authorized_date) as authorized_date,
        toDateTime64(joined.datetime, 3, 'UTC') as transacted_at,
        toDateTime64(joined.authorized_datetime, 3, 'UTC') as authorized_at,
        _revops_synced_at

    from joined

),

final as (

    select * from renamed

)

select * from final
