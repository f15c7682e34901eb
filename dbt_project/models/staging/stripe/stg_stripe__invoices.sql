{{ config(order_by=['workspace_id', 'invoice_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'invoices')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as invoice_id,
        customer as customer_id,
        -- Since API 2025-03-31 the subscription lives under `parent`; older objects (and older API
        -- versions) carry it at the top level.
        coalesce(
            {{ json_extract_id('parent', 'subscription_details.subscription') }},
            subscription
        ) as subscription_id,

        ---------- strings
        number as invoice_number,
        status,
        billing_reason,
        collection_method,
        {{ json_extract('parent', 'type') }} as parent_type,
        customer_email,
        hosted_invoice_url,
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        amount_due,
        amount_paid,
        amount_remaining,
        amount_overpaid,
        subtotal,
        total,
        subtotal_excluding_tax,
        total_excluding_tax,
        -- Tax in the pinned API version: `total_taxes[]` per rate, each exclusive (added on top of
        -- the subtotal) or inclusive (already inside the line amounts); discounts come off before tax.
        {{ json_array_sum('total_taxes') }} as total_tax,
        {{ json_array_sum('total_taxes', type_key='tax_behavior', type_value='exclusive') }} as exclusive_tax,
        {{ json_array_sum('total_taxes', type_key='tax_behavior', type_value='inclusive') }} as inclusive_tax,
        {{ json_array_sum('total_discount_amounts') }} as total_discount_amount,
        starting_balance,
        ending_balance,
        {{ minor_to_major('amount_due', 'currency') }} as amount_due_major,
        {{ minor_to_major('amount_paid', 'currency') }} as amount_paid_major,
        {{ minor_to_major('amount_remaining', 'currency') }} as amount_remaining_major,
        {{ minor_to_major('subtotal', 'currency') }} as subtotal_major,
        {{ minor_to_major('total', 'currency') }} as total_major,
        attempt_count,

        ---------- booleans
        attempted as is_attempted,
        auto_advance as is_auto_advance,
        -- A deleted (one-off) draft is kept as the last state its `invoice.deleted` event carried.
        coalesce(deleted, false) as is_deleted,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('period_start') }} as period_start_at,
        {{ epoch_to_timestamp('period_end') }} as period_end_at,
        {{ epoch_to_timestamp('due_date') }} as due_at,
        {{ epoch_to_timestamp('effective_at') }} as effective_at,
        {{ epoch_to_timestamp('next_payment_attempt') }} as next_payment_attempt_at,
        {{ epoch_to_timestamp(json_extract('status_transitions', 'finalized_at', 'Int64')) }} as finalized_at,
        {{ epoch_to_timestamp(json_extract('status_transitions', 'paid_at', 'Int64')) }} as paid_at,
        {{ epoch_to_timestamp(json_extract('status_transitions', 'voided_at', 'Int64')) }} as voided_at,
        {{ epoch_to_timestamp(json_extract('status_transitions', 'marked_uncollectible_at', 'Int64')) }}
            as marked_uncollectible_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
