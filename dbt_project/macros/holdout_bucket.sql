{#
    A customer's holdout bucket in [0, 10000): the first 8 bytes of MD5("<workspace>:<customer>:<salt>")
    as a big-endian integer, modulo 10000. actions/policy.py `holdout_bucket` computes the same.
#}
{% macro holdout_bucket(workspace_id, customer_id, salt) -%}
    reinterpretAsUInt64(reverse(substring(MD5(concat({{ workspace_id }}, ':', {{ customer_id }}, ':', {{ salt }})), 1, 8))) % 10000
{%- endmacro %}
