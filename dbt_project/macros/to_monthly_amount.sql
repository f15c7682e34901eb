{#
    `amount` billed every `interval_count` `interval`s (Stripe's recurring day/week/month/year) as an
    amount per month, as a Decimal(38, 6): periods per year over twelve months.
#}
{% macro to_monthly_amount(amount, interval, interval_count) -%}
    toDecimal128({{ amount }}, 6)
        * multiIf({{ interval }} = 'year', 1, {{ interval }} = 'month', 12, {{ interval }} = 'week', 52, 365)
        / (12 * {{ interval_count }})
{%- endmacro %}
