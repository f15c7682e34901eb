{{ config(order_by=['workspace_id', 'payout_id']) }}

with

source as (

    {{ exclude_quarantined(source('stripe', 'payouts')) }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        id as payout_id,
        balance_transaction as balance_transaction_id,
        failure_balance_transaction as failure_balance_transaction_id,
        destination as destination_id,

        ---------- strings
        status,
        method as payout_method,
        type as payout_type,
        reconciliation_status,
        failure_code,
        failure_message,
        description,
        statement_descriptor,
        -- Qualified: ClickHouse resolves an unqualified name to a same-named alias anywhere in the
        -- select, so `trace_id_status` would read the extracted value instead of the JSON.
        {{ json_extract('deduplicated.trace_id', 'value') }} as trace_id,
        {{ json_extract('deduplicated.trace_id', 'status') }} as trace_id_status,
        {{ normalize_currency('currency') }} as currency,
        metadata,

        ---------- numerics
        amount,
        {{ minor_to_major('amount', 'currency') }} as amount_major,

        ---------- booleans
        automatic as is_automatic,
        livemode as is_livemode,

        ---------- timestamps
        {{ epoch_to_timestamp('created') }} as created_at,
        {{ epoch_to_timestamp('arrival_date') }} as arrival_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
