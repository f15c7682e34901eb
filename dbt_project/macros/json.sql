{#
    Typed reads from JSON text columns (dlt lands nested Stripe objects as JSON strings).

    `path` is dotted (`status_transitions.paid_at`). The result is always Nullable: a missing key,
    a JSON null or malformed JSON reads as NULL rather than '' or 0, so "absent" never masquerades
    as a real value. (ClickHouse converts compatible scalars, "7" to 7, and returns an object's
    JSON text when read as a String: see json_extract_id.)
#}
{% macro json_extract(column, path, data_type='String') -%}
    JSONExtract({{ column }}, {% for key in path.split('.') %}'{{ key }}', {% endfor %}'Nullable({{ data_type }})')
{%- endmacro %}


{#
    Id of a field Stripe returns as an id string, or as an object with `id` when expanded (an
    embedded price's `product`, say). Reading the object as a string would return its JSON text.
#}
{% macro json_extract_id(column, path) -%}
    {%- set keys = path.split('.') -%}
    if(JSONType({{ column }}, '{{ keys | join("', '") }}') = 'Object', {{ json_extract(column, path ~ '.id') }}, {{ json_extract(column, path) }})
{%- endmacro %}


{#
    Sum of `amount_key` over the objects of a JSON array (fee_details, total_taxes,
    discount_amounts), optionally only those whose `type_key` equals `type_value`. An empty array
    sums to 0; a NULL column stays NULL (nothing was reported, which is not "no fees").
#}
{% macro json_array_sum(column, amount_key='amount', type_key=none, type_value=none) -%}
    {%- if type_key is none -%}
        {%- set element_amount = "JSONExtractInt(element, '" ~ amount_key ~ "')" -%}
    {%- else -%}
        {%- set element_amount = "if(JSONExtractString(element, '" ~ type_key ~ "') = '" ~ type_value ~ "', JSONExtractInt(element, '" ~ amount_key ~ "'), 0)" -%}
    {%- endif -%}
    if({{ column }} is null, null, arraySum(element -> {{ element_amount }}, JSONExtractArrayRaw(ifNull({{ column }}, '[]'))))
{%- endmacro %}
