{{ config(order_by=['workspace_id', 'invoice_line_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'invoice_line_items')) }}

),

-- Only the lines of each invoice's latest fetch: lines of a draft can change until finalization.
current_lines as (

    {{ stripe_items_of_latest_parent('source', source('stripe', 'invoices'), 'invoice') }}

),

deduplicated as (

    {{ deduplicate_latest('current_lines') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as invoice_line_id,
        invoice as invoice_id,
        -- Since API 2025-03-31 a line's origin is under `parent`, either a subscription item or a
        -- one-off invoice item; older objects carry `subscription` at the top level.
        coalesce(
            {{ json_extract('parent', 'subscription_item_details.subscription') }},
            {{ json_extract('parent', 'invoice_item_details.subscription') }},
            subscription
        ) as subscription_id,
        {{ json_extract('parent', 'subscription_item_details.subscription_item') }} as subscription_item_id,
        coalesce(
            {{ json_extract('parent', 'invoice_item_details.invoice_item') }},
            {{ json_extract('parent', 'subscription_item_details.invoice_item') }}
        ) as invoice_item_id,
        {{ json_extract_id('pricing', 'price_details.price') }} as price_id,
        {{ json_extract('pricing', 'price_details.product') }} as product_id,

        ---------- strings
        {{ json_extract('parent', 'type') }} as parent_type,
        description,
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        amount,
        {{ minor_to_major('amount', 'currency') }} as amount_major,
        {{ json_array_sum('discount_amounts') }} as discount_amount,
        {{ json_array_sum('taxes') }} as tax_amount,
        -- The part of `tax_amount` already inside `amount` (tax-inclusive prices).
        {{ json_array_sum('taxes', type_key='tax_behavior', type_value='inclusive') }} as inclusive_tax_amount,
        quantity,

        ---------- booleans
        coalesce(
            {{ json_extract('parent', 'subscription_item_details.proration', 'Bool') }},
            {{ json_extract('parent', 'invoice_item_details.proration', 'Bool') }}
        ) as is_proration,
        discountable as is_discountable,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp(json_extract('period', 'start', 'Int64')) }} as period_start_at,
        {{ epoch_to_timestamp(json_extract('period', 'end', 'Int64')) }} as period_end_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
