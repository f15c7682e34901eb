{{ config(order_by=['workspace_id', 'balance_transaction_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'balance_transactions')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as balance_transaction_id,
        -- The object that moved the balance: a charge, refund, payout, dispute... per `type`.
        source as source_id,

        ---------- strings
        type as balance_transaction_type,
        reporting_category,
        status,
        balance_type,
        description,
        -- The balance (settlement) currency; the source object may be in another one.
        {{ normalize_currency('currency') }} as currency,

        ---------- numerics
        amount,
        fee,
        net,
        {{ minor_to_major('amount', 'currency') }} as amount_major,
        {{ minor_to_major('fee', 'currency') }} as fee_major,
        {{ minor_to_major('net', 'currency') }} as net_major,
        -- `fee` broken down by who earns it (fee_details), in the same currency and sign as `fee`.
        {{ json_array_sum('fee_details', type_key='type', type_value='stripe_fee') }} as stripe_fee,
        {{ json_array_sum('fee_details', type_key='type', type_value='application_fee') }} as application_fee,
        {{ json_array_sum('fee_details', type_key='type', type_value='tax') }} as tax_fee,
        exchange_rate,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('available_on') }} as available_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
