{{ config(order_by=['workspace_id', 'balance_transaction_id']) }}

-- What each automatic payout paid out, as Stripe itemizes it (`/v1/balance_transactions?payout=`):
-- one row per payout and balance transaction, the payout's own transaction included, so a payout's
-- rows net to zero. An automatic payout pays each balance transaction out once; the latest listing wins.

with

source as (

    select * from {{ source('stripe', 'payout_balance_transactions') }}

),

deduplicated as (

    {{ deduplicate_latest('source') }}

),

renamed as (

    select
        ---------- ids
        workspace_id,
        payout as payout_id,
        id as balance_transaction_id,
        source as source_id,

        ---------- strings
        type as balance_transaction_type,
        reporting_category,
        {{ normalize_currency('currency') }} as currency,

        ---------- numerics
        amount,
        fee,
        net,

        ---------- timestamps
        {{ epoch_to_timestamp('available_on') }} as available_on_at,
        _revops_synced_at

    from deduplicated

),

final as (

    select * from renamed

)

select * from final
