{{ config(order_by=['workspace_id', 'invoice_id']) }}

-- Per invoice, the dunning attempts that reached the customer or the card: emails delivered and
-- payment retries made (declined ones too), from the append-only log's outcome rows.

with

actions as (

    select * from {{ ref('stg_dunning__actions') }}

),

final as (

    select
        workspace_id,
        invoice_id,
        min(acted_at) as first_contacted_at,
        arraySort(groupArray(acted_at)) as contacted_at,
        countIf(action = 'email') as emails_sent,
        countIf(action = 'retry') as retries_made

    from actions
    where status = 'sent' and action in ('email', 'retry')
    group by workspace_id, invoice_id

)

select * from final
