{{ config(order_by=['workspace_id', 'invoice_id']) }}

-- One row per invoice whose payment failed at least once: how the failure started, every attempt,
-- and how it ended. Definitions: docs/recovery.md.

with

attempts as (

    select * from {{ ref('int_recovery__payment_attempts') }}

),

invoices as (

    select * from {{ ref('stg_stripe__invoices') }}

),

decline_codes as (

    select * from {{ ref('stripe_decline_codes') }}

),

contacts as (

    select * from {{ ref('int_recovery__dunning_contacts') }}

),

policy_versions as (

    select distinct workspace_id, policy_version, effective_from, holdout_basis_points, holdout_salt
    from {{ ref('stg_dunning__policy_steps') }}

),

per_invoice as (

    select
        workspace_id,
        invoice_id,
        count() as attempt_count,
        countIf(not is_success) as failed_attempt_count,
        minIf(attempted_at, not is_success) as first_failed_at,
        argMinIf(decline_code, attempted_at, not is_success) as first_decline_code,
        argMinIf(advice_code, attempted_at, not is_success) as first_advice_code,
        argMinIf(payment_method_id, attempted_at, not is_success) as failed_payment_method_id,
        countIf(is_success) > 0 as has_successful_attempt,
        argMinIf(payment_method_id, attempted_at, is_success) as succeeded_payment_method_id,
        arrayMap(
            attempt -> attempt.2,
            arraySort(groupArray((attempt_number, if(is_success, 'succeeded', coalesce(decline_code, 'failed')))))
        ) as attempt_outcomes

    from attempts
    group by workspace_id, invoice_id
    having failed_attempt_count > 0

),

classified as (

    select
        per_invoice.workspace_id as workspace_id,
        per_invoice.invoice_id as invoice_id,
        per_invoice.attempt_count as attempt_count,
        per_invoice.failed_attempt_count as failed_attempt_count,
        per_invoice.first_failed_at as first_failed_at,
        per_invoice.first_decline_code as first_decline_code,
        per_invoice.first_advice_code as first_advice_code,
        per_invoice.failed_payment_method_id as failed_payment_method_id,
        per_invoice.has_successful_attempt as has_successful_attempt,
        per_invoice.succeeded_payment_method_id as succeeded_payment_method_id,
        per_invoice.attempt_outcomes as attempt_outcomes,
        -- The issuer's advice, when given, wins over the decline code; unknown codes count as soft.
        coalesce(
            nullIf(advice.decline_category, ''), nullIf(decline.decline_category, ''), 'soft'
        ) as decline_category

    from per_invoice
    left join decline_codes as advice
        on advice.code_type = 'advice_code' and advice.code = per_invoice.first_advice_code
    left join decline_codes as decline
        on decline.code_type = 'decline_code' and decline.code = per_invoice.first_decline_code

),

with_invoice as (

    select
        classified.workspace_id as workspace_id,
        classified.invoice_id as invoice_id,
        classified.attempt_count as attempt_count,
        classified.failed_attempt_count as failed_attempt_count,
        classified.first_failed_at as first_failed_at,
        classified.first_decline_code as first_decline_code,
        classified.first_advice_code as first_advice_code,
        classified.failed_payment_method_id as failed_payment_method_id,
        classified.has_successful_attempt as has_successful_attempt,
        classified.succeeded_payment_method_id as succeeded_payment_method_id,
        classified.attempt_outcomes as attempt_outcomes,
        classified.decline_category as decline_category,
        invoices.customer_id as customer_id,
        invoices.subscription_id as subscription_id,
        invoices.amount_due as amount_at_risk,
        invoices.amount_due_major as amount_at_risk_major,
        invoices.currency as currency,
        invoices.status as invoice_status,
        invoices.paid_at as paid_at,
        invoices.hosted_invoice_url as hosted_invoice_url,
        -- Unmatched left-join columns are defaults in ClickHouse, not NULL.
        if(contacts.invoice_id = '', null, contacts.first_contacted_at) as first_contacted_at,
        contacts.contacted_at as contacted_at

    from classified
    inner join invoices
        on invoices.workspace_id = classified.workspace_id
        and invoices.invoice_id = classified.invoice_id
    left join contacts
        on contacts.workspace_id = classified.workspace_id
        and contacts.invoice_id = classified.invoice_id

),

enrolment as (

    -- The policy version in force at the first failure (the latest one effective by then).
    select
        with_invoice.workspace_id as workspace_id,
        with_invoice.invoice_id as invoice_id,
        argMax(policy_versions.policy_version, policy_versions.effective_from) as policy_version,
        argMax(policy_versions.holdout_basis_points, policy_versions.effective_from) as holdout_basis_points,
        argMax(policy_versions.holdout_salt, policy_versions.effective_from) as holdout_salt

    from with_invoice
    inner join policy_versions on policy_versions.workspace_id = with_invoice.workspace_id
    where policy_versions.effective_from <= with_invoice.first_failed_at
    group by with_invoice.workspace_id, with_invoice.invoice_id

),

final as (

    select
        with_invoice.workspace_id as workspace_id,
        with_invoice.invoice_id as invoice_id,
        with_invoice.customer_id as customer_id,
        with_invoice.subscription_id as subscription_id,
        with_invoice.amount_at_risk as amount_at_risk,
        with_invoice.amount_at_risk_major as amount_at_risk_major,
        with_invoice.currency as currency,
        with_invoice.first_failed_at as first_failed_at,
        with_invoice.first_decline_code as decline_code,
        with_invoice.first_advice_code as advice_code,
        with_invoice.decline_category as decline_category,
        toBool(with_invoice.decline_category = 'soft') as is_retryable,
        with_invoice.attempt_count as attempt_count,
        with_invoice.failed_attempt_count as failed_attempt_count,
        with_invoice.attempt_outcomes as attempt_outcomes,
        with_invoice.invoice_status as invoice_status,
        case
            when with_invoice.invoice_status = 'paid' then 'recovered'
            when with_invoice.invoice_status in ('uncollectible', 'void') then 'lost'
            else 'open'
        end as outcome,
        if(with_invoice.invoice_status = 'paid', with_invoice.paid_at, null) as recovered_at,
        if(with_invoice.invoice_status = 'paid', with_invoice.amount_at_risk, 0) as amount_recovered,
        case
            when with_invoice.invoice_status != 'paid' then null
            when not with_invoice.has_successful_attempt then 'out_of_band'
            when with_invoice.succeeded_payment_method_id != with_invoice.failed_payment_method_id
                then 'card_updated'
            -- A retry we made settles the second it is made: compare with the payment, not the charge.
            when arrayExists(moment -> moment <= with_invoice.paid_at, with_invoice.contacted_at)
                then 'dunning'
            else 'automatic_retry'
        end as recovery_path,
        if(
            with_invoice.invoice_status = 'paid',
            intDiv(dateDiff('second', with_invoice.first_failed_at, with_invoice.paid_at), 86400),
            null
        ) as days_to_recovery,
        with_invoice.first_contacted_at as first_dunning_contact_at,
        with_invoice.hosted_invoice_url as hosted_invoice_url,
        case
            when enrolment.policy_version = '' then 'not_enrolled'
            when {{ holdout_bucket('with_invoice.workspace_id', 'with_invoice.customer_id', 'enrolment.holdout_salt') }}
                < enrolment.holdout_basis_points then 'holdout'
            else 'treatment'
        end as dunning_cohort,
        nullIf(enrolment.policy_version, '') as policy_version

    from with_invoice
    left join enrolment
        on enrolment.workspace_id = with_invoice.workspace_id
        and enrolment.invoice_id = with_invoice.invoice_id

)

select * from final
