{{ config(order_by=['workspace_id', 'customer_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'customers')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as customer_id,
        default_source as default_source_id,
        {{ json_extract_id('invoice_settings', 'default_payment_method') }} as default_payment_method_id,

        ---------- strings
        name as customer_name,
        email,
        description,
        {{ json_extract('address', 'country') }} as address_country,
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        balance,
        {{ minor_to_major('balance', 'currency') }} as balance_major,

        ---------- booleans
        delinquent as is_delinquent,
        -- Stripe only sends `deleted` on deleted customers; absent means not deleted.
        coalesce(deleted, false) as is_deleted,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
