{{ config(order_by=['workspace_id', 'payment_intent_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'payment_intents')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as payment_intent_id,
        customer as customer_id,
        latest_charge as latest_charge_id,
        payment_method as payment_method_id,

        ---------- strings
        status,
        cancellation_reason,
        {{ json_extract('last_payment_error', 'type') }} as last_payment_error_type,
        {{ json_extract('last_payment_error', 'code') }} as last_payment_error_code,
        {{ json_extract('last_payment_error', 'decline_code') }} as last_payment_error_decline_code,
        {{ json_extract('last_payment_error', 'advice_code') }} as last_payment_error_advice_code,
        description,
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        amount,
        amount_received,
        {{ minor_to_major('amount', 'currency') }} as amount_major,
        {{ minor_to_major('amount_received', 'currency') }} as amount_received_major,

        ---------- booleans
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('canceled_at') }} as canceled_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
