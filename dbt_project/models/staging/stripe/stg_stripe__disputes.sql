{{ config(order_by=['workspace_id', 'dispute_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'disputes')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as dispute_id,
        charge as charge_id,
        payment_intent as payment_intent_id,

        ---------- strings
        status,
        reason as dispute_reason,
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        amount,
        {{ minor_to_major('amount', 'currency') }} as amount_major,
        {{ json_extract('evidence_details', 'submission_count', 'Int64') }} as evidence_submission_count,

        ---------- booleans
        is_charge_refundable,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp(json_extract('evidence_details', 'due_by', 'Int64')) }} as evidence_due_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
