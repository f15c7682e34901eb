{#
    Every non-null `column_name` refers to a row of `to` with `field` = the value in the SAME
    workspace. dbt's `relationships` test matches ids across all workspaces, so a charge pointing
    at another tenant's customer (same Stripe id, different account) would pass it.
#}
{% test relationships_in_workspace(model, column_name, to, field, workspace_column='workspace_id') %}

with

child as (

    select
        {{ workspace_column }} as workspace_id,
        {{ column_name }} as ref_id
    from {{ model }}
    where {{ column_name }} is not null

),

parent as (

    select
        {{ workspace_column }} as workspace_id,
        {{ field }} as ref_id
    from {{ to }}
    where {{ field }} is not null

)

-- NOT IN rather than a left join: ClickHouse fills unmatched right-side columns with defaults
-- ('' not NULL) unless join_use_nulls is set, which would hide every orphan.
select
    workspace_id,
    ref_id
from child
where (workspace_id, ref_id) not in (select workspace_id, ref_id from parent)

{% endtest %}
