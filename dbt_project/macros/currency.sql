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
    answer either way); NULL when the code is missing or blank. `standard='iso'` answers with the
    ISO 4217 minor unit instead (vars `iso_*_decimal_currencies`), for sources that send major
    units (Plaid): ISK is 0 there, MGA is 2, and the four-decimal CLF and UYW exist.
#}
{% macro currency_exponent(currency, standard='stripe') -%}
    {%- set code = normalize_currency(currency) -%}
    {%- if standard == 'iso' -%}
    multiIf({{ code }} is null, null, {{ code }} in {{ _sql_string_tuple(var('iso_zero_decimal_currencies')) }}, 0, {{ code }} in {{ _sql_string_tuple(var('iso_three_decimal_currencies')) }}, 3, {{ code }} in {{ _sql_string_tuple(var('iso_four_decimal_currencies')) }}, 4, 2)
    {%- elif standard == 'stripe' -%}
    multiIf({{ code }} is null, null, {{ code }} in {{ _sql_string_tuple(var('stripe_zero_decimal_currencies')) }}, 0, {{ code }} in {{ _sql_string_tuple(var('stripe_three_decimal_currencies')) }}, 3, 2)
    {%- else -%}
    {{ exceptions.raise_compiler_error("currency_exponent: standard must be 'stripe' or 'iso', not " ~ standard) }}
    {%- endif -%}
{%- endmacro %}


{#
    `amount` (integer minor units) in major units, exactly: a Decimal with the largest exponent
    Stripe uses (3), divided by a power of ten, never a float. NULL when the amount or the currency
    is unknown, because a guessed exponent would be silently wrong by 100x.
#}
{% macro minor_to_major(amount, currency) -%}
    toDecimal128({{ amount }}, 3) / intExp10({{ currency_exponent(currency) }})
{%- endmacro %}


{#
    A decimal amount in major units (Plaid's) as integer minor units of its ISO 4217 exponent,
    exactly: Decimal times a power of ten, never a float. NULL when the amount or the currency is
    unknown. Pass only ISO codes: an unofficial code (a crypto asset) would get the default of 2.
#}
{% macro major_to_minor(amount, currency, standard='iso') -%}
    toInt64({{ amount }} * intExp10({{ currency_exponent(currency, standard) }}))
{%- endmacro %}


{# A SQL tuple of upper-cased string literals, for `in`. #}
{% macro _sql_string_tuple(values) -%}
    ({% for value in values %}'{{ value | upper }}'{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
