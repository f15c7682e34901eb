{{ config(order_by=['workspace_id', 'invoice_payment_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'invoice_payments')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as invoice_payment_id,
        invoice as invoice_id,
        {{ json_extract_id('payment', 'payment_intent') }} as payment_intent_id,
        -- Set only for charges without a payment intent (legacy Charges API payments).
        {{ json_extract_id('payment', 'charge') }} as charge_id,

        ---------- strings
        {{ json_extract('payment', 'type') }} as payment_type,
        status,
        {{ normalize_currency('currency') }} as currency,

        ---------- numerics
        amount_requested,
        amount_paid,
        {{ minor_to_major('amount_requested', 'currency') }} as amount_requested_major,
        {{ minor_to_major('amount_paid', 'currency') }} as amount_paid_major,

        ---------- booleans
        is_default,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp(json_extract('status_transitions', 'paid_at', 'Int64')) }} as paid_at,
        {{ epoch_to_timestamp(json_extract('status_transitions', 'canceled_at', 'Int64')) }} as canceled_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
