{#
    The combination of `columns` is unique across the model: the grain test for multi-tenant models,
    where an id is only unique within its workspace.
#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(', ') }},
    count(*) as n_records
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1

{% endtest %}
