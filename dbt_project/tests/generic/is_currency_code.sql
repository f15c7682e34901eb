{#
    Non-null values are upper-case three-letter ISO 4217 codes, as staging normalizes them; anything
    else (a blank, a lowercase code that escaped normalization) breaks currency joins downstream.
#}
{% test is_currency_code(model, column_name) %}

select {{ column_name }}
from {{ model }}
where {{ column_name }} is not null
    and not match({{ column_name }}, '^[A-Z]{3}$')

{% endtest %}
