{{ config(order_by=['workspace_id', 'source_system', 'account_id']) }}

-- One chart of accounts whichever system a workspace keeps its books in.

with

quickbooks as (

    select
        workspace_id,
        'quickbooks' as source_system,
        account_id,
        account_code,
        account_name,
        account_type,
        account_class,
        currency,
        is_active,
        updated_at
    from {{ ref('stg_qbo__accounts') }}

),

xero as (

    select
        workspace_id,
        'xero' as source_system,
        account_id,
        account_code,
        account_name,
        account_type,
        account_class,
        currency,
        is_active,
        updated_at
    from {{ ref('stg_xero__accounts') }}

),

unioned as (

    select * from quickbooks
    union all
    select * from xero

)

select * from unioned
