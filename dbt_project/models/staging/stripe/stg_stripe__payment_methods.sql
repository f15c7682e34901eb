{{ config(order_by=['workspace_id', 'payment_method_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'payment_methods')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as payment_method_id,
        -- Null once the card is detached (replaced by another): Stripe nulls `customer`.
        customer as customer_id,

        ---------- strings
        type as payment_method_type,
        {{ json_extract('card', 'brand') }} as card_brand,
        {{ json_extract('card', 'last4') }} as card_last4,
        {{ json_extract('card', 'funding') }} as card_funding,
        {{ json_extract('card', 'country') }} as card_country,
        {{ json_extract('card', 'fingerprint') }} as card_fingerprint,
        metadata,

        ---------- numerics
        {{ json_extract('card', 'exp_month', 'Int64') }} as card_exp_month,
        {{ json_extract('card', 'exp_year', 'Int64') }} as card_exp_year,

        ---------- booleans
        toBool(customer is null) as is_detached,
        livemode as is_livemode,

        ---------- timestamps
        -- A card works through the last second of its expiry month.
        if(
            card_exp_year is null or card_exp_month is null,
            null,
            toDateTime64(
                addSeconds(addMonths(toDateTime(makeDate(card_exp_year, card_exp_month, 1), 'UTC'), 1), -1),
                3,
                'UTC'
            )
        ) as card_expires_at,
        {{ epoch_to_timestamp('created') }} as created_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
