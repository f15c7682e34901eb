{{ config(order_by=['workspace_id', 'account_id']) }}

with

source as (

    {{ exclude_quarantined(source('plaid', 'accounts'), 'account_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'account_id']) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        account_id,
        item_id,

        ---------- strings
        name as account_name,
        official_name,
        mask,
        type as account_type,
        subtype as account_subtype,
        -- Plaid sets exactly one of the two; an unofficial code (crypto assets) is not ISO 4217.
        coalesce(
            {{ normalize_currency('iso_currency_code') }},
            {{ normalize_currency('unofficial_currency_code') }}
        ) as currency,

        ---------- numerics
        -- Balances keep the bank's sign (positive = funds held in a depository account, owed on a
        -- credit account). Minor units only for ISO codes, whose exponent is known.
        {{ major_to_minor('deduplicated.balance_current', 'iso_currency_code') }} as balance_current,
        {{ major_to_minor('deduplicated.balance_available', 'iso_currency_code') }} as balance_available,
        {{ major_to_minor('deduplicated.balance_limit', 'iso_currency_code') }} as balance_limit,
        deduplicated.balance_current as balance_current_major,
        deduplicated.balance_available as balance_available_major,
        deduplicated.balance_limit as balance_limit_major,

        ---------- timestamps
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
