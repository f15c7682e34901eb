{{ config(order_by=['workspace_id', 'contact_id']) }}

with

source as (

    {{ exclude_quarantined(source('xero', 'contacts'), 'contact_id') }}

),

deduplicated as (

    {{ deduplicate_latest('source', key_columns=['workspace_id', 'contact_id']) }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        contact_id,
        contact_number,

        ---------- strings
        name as contact_name,
        email_address as email,
        JSONExtractString(ifNull(addresses, '[]'), 1, 'Country') as address_country,
        contact_status,
        {{ normalize_currency('default_currency') }} as currency,

        ---------- booleans
        is_customer,
        is_supplier,
        contact_status = 'ACTIVE' as is_active,

        ---------- timestamps
        {{ xero_timestamp('updated_date_utc') }} as updated_at,
        _revops_synced_at

    from deduplicated

)

select * from renamed
