{#
    Currency handling. Stripe sends lowercase ISO 4217 codes and integer amounts in the currency's
    minor unit, whose size depends on the currency (vars in dbt_project.yml).
#}

{# Upper-case ISO 4217 code; an empty or blank code is unknown, not a currency. #}
{% macro normalize_currency(column) -%}
    upper(nullIf(trimBoth({{ column }}), ''))
{%- endmacro %}


{#
    Digits after the decimal point in Stripe's amounts for `currency`, raw or normalized (the same
    answer either way); NULL when the code is missing or blank.
#}
{% macro currency_exponent(currency) -%}
    {%- set code = normalize_currency(currency) -%}
    multiIf({{ code }} is null, null, {{ code }} in {{ _sql_string_tuple(var('stripe_zero_decimal_currencies')) }}, 0, {{ code }} in {{ _sql_string_tuple(var('stripe_three_decimal_currencies')) }}, 3, 2)
{%- endmacro %}


{#
    `amount` (integer minor units) in major units, exactly: a Decimal with the largest exponent
    Stripe uses (3), divided by a power of ten, never a float. NULL when the amount or the currency
    is unknown, because a guessed exponent would be silently wrong by 100x.
#}
{% macro minor_to_major(amount, currency) -%}
    toDecimal128({{ amount }}, 3) / intExp10({{ currency_exponent(currency) }})
{%- endmacro %}


{# A SQL tuple of upper-cased string literals, for `in`. #}
{% macro _sql_string_tuple(values) -%}
    ({% for value in values %}'{{ value | upper }}'{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
