{{ config(order_by=['workspace_id', 'occurred_at', 'transaction_id', 'entry_id']) }}

-- The double-entry ledger: one row per line, up to each workspace's as-of instant. Ids are hashes of
-- what the line records (workspace, source, object, posting rule and key, line), so a rebuild
-- reproduces them and a later change to a source adds new transactions instead of editing lines.

with

as_of as (

    select * from {{ ref('int_ledger__as_of') }}

),

postings as (

    select * from {{ ref('int_ledger__stripe_postings') }}
    union all
    select * from {{ ref('int_ledger__invoice_postings') }}
    union all
    select * from {{ ref('int_ledger__bank_postings') }}

),

final as (

    select
        lower(hex(substring(SHA256(concat_ws('|',
            postings.workspace_id, postings.source_system, postings.source_object_id,
            postings.posting_rule, postings.posting_key, postings.line_key
        )), 1, 16))) as entry_id,
        lower(hex(substring(SHA256(concat_ws('|',
            postings.workspace_id, postings.source_system, postings.source_object_id,
            postings.posting_rule, postings.posting_key
        )), 1, 16))) as transaction_id,
        postings.workspace_id as workspace_id,
        -- Not NULL: lines without a time, currency or amount fail the filter below.
        toDateTime64(assumeNotNull(postings.occurred_at), 3, 'UTC') as occurred_at,
        postings.account as account,
        ifNull(postings.sub_account, '') as sub_account,
        assumeNotNull(postings.currency) as currency,
        toInt64(greatest(assumeNotNull(postings.amount), 0)) as debit,
        toInt64(greatest(-assumeNotNull(postings.amount), 0)) as credit,
        postings.source_system as source_system,
        postings.source_object_id as source_object_id,
        postings.posting_rule as posting_rule,
        postings.posting_key as posting_key,
        postings.line_key as line_key,
        postings.customer_id as customer_id,
        postings.invoice_id as invoice_id,
        postings.description as description
    from postings
    inner join as_of on postings.workspace_id = as_of.workspace_id
    where postings.currency is not null and postings.occurred_at <= as_of.as_of_at

)

select * from final
