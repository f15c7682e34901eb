{{ config(order_by=['workspace_id', 'refund_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'refunds')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as refund_id,
        charge as charge_id,
        payment_intent as payment_intent_id,
        balance_transaction as balance_transaction_id,

        ---------- strings
        status,
        reason as refund_reason,
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        amount,
        {{ minor_to_major('amount', 'currency') }} as amount_major,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
