{{ config(order_by=['workspace_id', 'source_system', 'journal_id', 'line_number']) }}

-- Manual journal lines from either accounting system, signed the same way (debit positive, credit
-- negative) and tagged with their account's code, type and class.

with

qbo_accounts as (

    select * from {{ ref('stg_qbo__accounts') }}

),

xero_accounts as (

    select * from {{ ref('stg_xero__accounts') }}

),

-- Xero manual journals are in the organisation's base currency, which is the currency of its bank
-- accounts (Xero sends a currency on bank accounts only).
xero_base_currency as (

    select workspace_id, any(currency) as base_currency
    from xero_accounts
    where account_type = 'BANK' and currency is not null
    group by workspace_id

),

quickbooks as (

    select
        lines.workspace_id as workspace_id,
        'quickbooks' as source_system,
        lines.journal_entry_id as journal_id,
        lines.line_number as line_number,
        lines.journal_date as journal_date,
        lines.description as description,
        lines.account_id as account_id,
        accounts.account_code as account_code,
        accounts.account_type as account_type,
        accounts.account_class as account_class,
        lines.posting_type as posting_type,
        lines.currency as currency,
        if(lines.posting_type = 'credit', -lines.amount, lines.amount) as amount,
        if(lines.posting_type = 'credit', -lines.amount_major, lines.amount_major) as amount_major,
        lines.updated_at as updated_at
    from {{ ref('stg_qbo__journal_lines') }} as lines
    left join qbo_accounts as accounts
        on lines.workspace_id = accounts.workspace_id
        and lines.account_id = accounts.account_id

),

xero as (

    select
        lines.workspace_id as workspace_id,
        'xero' as source_system,
        lines.manual_journal_id as journal_id,
        lines.line_number as line_number,
        lines.journal_date as journal_date,
        coalesce(lines.description, lines.narration) as description,
        accounts.account_id as account_id,
        lines.account_code as account_code,
        accounts.account_type as account_type,
        accounts.account_class as account_class,
        if(lines.line_amount < 0, 'credit', 'debit') as posting_type,
        base.base_currency as currency,
        {{ major_to_minor('lines.line_amount', 'base.base_currency') }} as amount,
        toDecimal128(lines.line_amount, 3) as amount_major,
        lines.updated_at as updated_at
    from {{ ref('stg_xero__journal_lines') }} as lines
    left join xero_accounts as accounts
        on lines.workspace_id = accounts.workspace_id
        and lines.account_code = accounts.account_code
    left join xero_base_currency as base
        on lines.workspace_id = base.workspace_id

),

unioned as (

    select * from quickbooks
    union all
    select * from xero

)

select * from unioned
