{{ config(order_by=['workspace_id', 'account_id']) }}

with

source as (

    {{ exclude_quarantined(source('xero', 'accounts'), 'account_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'account_id']) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        account_id,

        ---------- strings
        code as account_code,
        name as account_name,
        type as account_type,
        lower(class) as account_class,
        status,
        bank_account_type,
        system_account,
        {{ normalize_currency('currency_code') }} as currency,

        ---------- booleans
        status = 'ACTIVE' as is_active,

        ---------- timestamps
        {{ xero_timestamp('updated_date_utc') }} as updated_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
