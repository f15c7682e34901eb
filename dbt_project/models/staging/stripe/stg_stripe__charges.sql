{{ config(order_by=['workspace_id', 'charge_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'charges')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as charge_id,
        customer as customer_id,
        payment_intent as payment_intent_id,
        balance_transaction as balance_transaction_id,
        payment_method as payment_method_id,

        ---------- strings
        status,
        failure_code,
        failure_message,
        {{ json_extract('outcome', 'type') }} as outcome_type,
        {{ json_extract('outcome', 'reason') }} as outcome_reason,
        {{ json_extract('outcome', 'network_status') }} as outcome_network_status,
        {{ json_extract('outcome', 'risk_level') }} as outcome_risk_level,
        {{ json_extract('outcome', 'advice_code') }} as outcome_advice_code,
        {{ json_extract('outcome', 'seller_message') }} as outcome_seller_message,
        -- Stripe reports an issuer decline's decline code (insufficient_funds, ...) as the
        -- outcome reason; other outcome reasons are Radar's and are not decline codes.
        if(
            {{ json_extract('outcome', 'type') }} = 'issuer_declined',
            {{ json_extract('outcome', 'reason') }},
            null
        ) as decline_code,
        {{ json_extract('outcome', 'network_decline_code') }} as network_decline_code,
        {{ json_extract('outcome', 'network_advice_code') }} as network_advice_code,
        {{ json_extract('payment_method_details', 'type') }} as payment_method_type,
        {{ json_extract('payment_method_details', 'card.brand') }} as card_brand,
        {{ json_extract('payment_method_details', 'card.funding') }} as card_funding,
        {{ json_extract('payment_method_details', 'card.country') }} as card_country,
        {{ json_extract('billing_details', 'address.country') }} as billing_country,
        description,
        calculated_statement_descriptor,
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        amount,
        amount_captured,
        amount_refunded,
        {{ minor_to_major('amount', 'currency') }} as amount_major,
        {{ minor_to_major('amount_captured', 'currency') }} as amount_captured_major,
        {{ minor_to_major('amount_refunded', 'currency') }} as amount_refunded_major,

        ---------- booleans
        paid as is_paid,
        captured as is_captured,
        refunded as is_refunded,
        disputed as is_disputed,
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
