{#
    Stripe timestamps are Unix epoch seconds; analytics columns are DateTime64(3, 'UTC') so they
    compare and join with other sources' timestamps without a cast. NULL stays NULL.
#}
{% macro epoch_to_timestamp(column) -%}
    toDateTime64({{ column }}, 3, 'UTC')
{%- endmacro %}
