{{ config(order_by=['workspace_id', 'invoice_id', 'attempt_number']) }}

-- Every card payment attempt on an invoice: invoice → invoice payment → payment intent → charges.

with

invoice_payments as (

    select workspace_id, assumeNotNull(invoice_id) as invoice_id, payment_intent_id
    from {{ ref('stg_stripe__invoice_payments') }}
    where payment_intent_id is not null and invoice_id is not null

),

charges as (

    select * from {{ ref('stg_stripe__charges') }}

),

joined as (

    select
        invoice_payments.workspace_id as workspace_id,
        invoice_payments.invoice_id as invoice_id,
        charges.charge_id as charge_id,
        assumeNotNull(charges.created_at) as attempted_at,
        charges.status as status,
        charges.status = 'succeeded' as is_success,
        charges.payment_method_id as payment_method_id,
        charges.amount as amount,
        charges.currency as currency,
        charges.outcome_type as outcome_type,
        -- Stripe's reason for a failure: the issuer's decline code, or Radar's risk level for a block.
        if(charges.status = 'succeeded', null, charges.outcome_reason) as decline_code,
        if(charges.status = 'succeeded', null, charges.outcome_advice_code) as advice_code,
        charges.failure_code as failure_code

    from invoice_payments
    inner join charges
        on charges.workspace_id = invoice_payments.workspace_id
        and charges.payment_intent_id = invoice_payments.payment_intent_id

),

final as (

    select
        *,
        row_number() over (
            partition by workspace_id, invoice_id order by attempted_at, charge_id
        ) as attempt_number

    from joined

)

select * from final
