{{ config(order_by=['workspace_id', 'source_object_id', 'posting_rule', 'posting_key', 'line_key']) }}

-- Ledger lines for every Stripe balance transaction: what moved the balance (amount), what Stripe
-- kept (fee) and where the net went (balance), plus the move from pending to available at
-- `available_on`. Amounts are signed: debit positive. docs/ledger.md lists every posting rule.

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

balance_transactions as (

    select * from {{ ref('stg_stripe__balance_transactions') }}

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

-- Which invoice a charge paid: through its payment intent (or the charge itself, for legacy charges).
invoice_of_charge as (

    select
        charges.workspace_id as workspace_id,
        charges.charge_id as charge_id,
        any(payments.invoice_id) as invoice_id
    from charges
    inner join {{ ref('stg_stripe__invoice_payments') }} as payments
        on charges.workspace_id = payments.workspace_id
        and (
            charges.payment_intent_id = payments.payment_intent_id
            or charges.charge_id = payments.charge_id
        )
    group by charges.workspace_id, charges.charge_id

),

classified as (

    select
        bt.workspace_id as workspace_id,
        bt.balance_transaction_id as balance_transaction_id,
        bt.balance_transaction_type as balance_transaction_type,
        bt.currency as currency,
        toInt64(bt.amount) as amount,
        toInt64(bt.fee) as fee,
        toInt64(bt.net) as net,
        bt.created_at as created_at,
        bt.available_at as available_at,
        bt.description as description,
        charges.customer_id as customer_id,
        -- Unmatched, the join gives an empty string where the column is not Nullable.
        nullIf(invoice_of_charge.invoice_id, '') as invoice_id,
        multiIf(
            bt.balance_transaction_type in ('charge', 'payment'), 'stripe_charge',
            bt.balance_transaction_type in ('refund', 'payment_refund'), 'stripe_refund',
            bt.reporting_category = 'dispute', 'stripe_dispute',
            bt.reporting_category = 'dispute_reversal', 'stripe_dispute_reversal',
            bt.balance_transaction_type = 'payout', 'stripe_payout',
            bt.balance_transaction_type = 'payout_failure', 'stripe_payout_failure',
            bt.balance_transaction_type = 'stripe_fee', 'stripe_fee',
            'stripe_unclassified'
        ) as posting_rule,
        multiIf(
            posting_rule = 'stripe_charge',
            if(invoice_id is null, 'revenue', 'accounts_receivable'),
            posting_rule = 'stripe_refund', 'refunds',
            posting_rule in ('stripe_dispute', 'stripe_dispute_reversal'), 'dispute_losses',
            posting_rule in ('stripe_payout', 'stripe_payout_failure'), 'bank_clearing',
            posting_rule = 'stripe_fee', 'processing_fees',
            'suspense'
        ) as counter_account,
        if(posting_rule in ('stripe_dispute', 'stripe_dispute_reversal'), 'dispute_fees', 'processing_fees')
            as fee_account,
        -- A charge in another currency than the balance's: its receivable is cleared in the charge's
        -- currency, and each currency balances through the conversion account.
        posting_rule = 'stripe_charge' and charges.currency != bt.currency as is_converted,
        if(is_converted, charges.currency, bt.currency) as presentment_currency,
        if(is_converted, toInt64(charges.amount), 0) as presentment_amount,
        bt.available_at > bt.created_at as settles_later
    from balance_transactions as bt
    left join charges
        on bt.workspace_id = charges.workspace_id
        and bt.source_id = charges.charge_id
    left join invoice_of_charge
        on bt.workspace_id = invoice_of_charge.workspace_id
        and bt.source_id = invoice_of_charge.charge_id

),

movements as (

    select
        workspace_id,
        balance_transaction_id as source_object_id,
        posting_rule,
        '' as posting_key,
        line.1 as line_key,
        created_at as occurred_at,
        line.2 as account,
        line.3 as currency,
        line.4 as amount,
        customer_id,
        invoice_id,
        description
    from classified
    -- Qualified names: ClickHouse would resolve a bare `currency` to this select's alias.
    array join [
        (
            'net',
            if(classified.settles_later, 'stripe_pending', 'stripe_balance'),
            classified.currency,
            classified.net
        ),
        ('fee', classified.fee_account, classified.currency, classified.fee),
        (
            'amount',
            if(classified.is_converted, 'fx_conversion', classified.counter_account),
            classified.currency,
            -classified.amount
        ),
        ('amount_presentment', 'fx_conversion', classified.presentment_currency, classified.presentment_amount),
        (
            'counter_presentment',
            classified.counter_account,
            classified.presentment_currency,
            -classified.presentment_amount
        )
    ] as line

),

funds_available as (

    select
        classified.workspace_id as workspace_id,
        classified.balance_transaction_id as source_object_id,
        'stripe_funds_available' as posting_rule,
        '' as posting_key,
        line.1 as line_key,
        classified.available_at as occurred_at,
        line.2 as account,
        classified.currency as currency,
        line.3 as amount,
        classified.customer_id as customer_id,
        classified.invoice_id as invoice_id,
        classified.description as description
    from classified
    inner join as_of on classified.workspace_id = as_of.workspace_id
    array join [('available', 'stripe_balance', classified.net), ('pending', 'stripe_pending', -classified.net)]
        as line
    where classified.settles_later and classified.available_at <= as_of.as_of_at

),

final as (

    select * from movements
    union all
    select * from funds_available

)

select
    ifNull(workspace_id, '') as workspace_id,
    'stripe' as source_system,
    ifNull(source_object_id, '') as source_object_id,
    posting_rule,
    posting_key,
    line_key,
    occurred_at,
    account,
    '' as sub_account,
    currency,
    amount,
    customer_id,
    invoice_id,
    description
from final
-- A zero line records nothing (a charge without a fee).
where amount != 0
