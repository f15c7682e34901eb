{#
    The instant recovery models measure against (cohort maturity, steps due): the `recovery_as_of`
    var (`--vars '{recovery_as_of: "2026-11-05 14:00:00"}'`, UTC), as the demo passes the simulator's
    clock, or now.
#}
{% macro recovery_as_of() -%}
    {%- if var('recovery_as_of', none) -%}
        toDateTime64('{{ var("recovery_as_of") }}', 3, 'UTC')
    {%- else -%}
        now64(3, 'UTC')
    {%- endif -%}
{%- endmacro %}

{#
    A customer's holdout bucket in [0, 10000): the first 8 bytes of MD5("<workspace>:<customer>:<salt>")
    as a big-endian integer, modulo 10000. actions/policy.py `holdout_bucket` computes the same.
#}
{% macro holdout_bucket(workspace_id, customer_id, salt) -%}
    reinterpretAsUInt64(reverse(substring(MD5(concat({{ workspace_id }}, ':', {{ customer_id }}, ':', {{ salt }})), 1, 8))) % 10000
{%- endmacro %}
