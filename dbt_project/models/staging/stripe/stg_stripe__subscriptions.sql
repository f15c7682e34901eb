{{ config(order_by=['workspace_id', 'subscription_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'subscriptions')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as subscription_id,
        customer as customer_id,
        latest_invoice as latest_invoice_id,
        default_payment_method as default_payment_method_id,

        ---------- strings
        status,
        collection_method,
        {{ json_extract('cancellation_details', 'reason') }} as cancellation_reason,
        {{ json_extract('cancellation_details', 'feedback') }} as cancellation_feedback,
        -- Paused collection: `void`, `keep_as_draft` or `mark_uncollectible`, null when collecting.
        {{ json_extract('pause_collection', 'behavior') }} as pause_collection_behavior,
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        days_until_due,

        ---------- booleans
        cancel_at_period_end as is_cancel_at_period_end,
        toBool(pause_collection_behavior is not null) as is_collection_paused,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('start_date') }} as start_at,
        {{ epoch_to_timestamp('billing_cycle_anchor') }} as billing_cycle_anchor_at,
        {{ epoch_to_timestamp('trial_start') }} as trial_start_at,
        {{ epoch_to_timestamp('trial_end') }} as trial_end_at,
        {{ epoch_to_timestamp(json_extract('pause_collection', 'resumes_at', 'Int64')) }} as pause_collection_resumes_at,
        {{ epoch_to_timestamp('cancel_at') }} as cancel_at,
        {{ epoch_to_timestamp('canceled_at') }} as canceled_at,
        {{ epoch_to_timestamp('ended_at') }} as ended_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
