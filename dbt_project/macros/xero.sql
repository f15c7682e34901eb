{#
    Xero's dates and timestamps are Microsoft JSON dates, `/Date(<epoch milliseconds>+0000)/`, UTC.
    NULL when missing or unreadable.
#}
{% macro xero_timestamp(column) -%}
    fromUnixTimestamp64Milli(toInt64OrNull(extract(ifNull({{ column }}, ''), '^/Date\\((-?[0-9]+)')), 'UTC')
{%- endmacro %}


{% macro xero_date(column) -%}
    toDate32({{ xero_timestamp(column) }})
{%- endmacro %}


{#
    Exact sum of the `Amount` of each element of a Xero JSON array (Allocations, Payments) in major
    units, as Decimal; 0 for an empty array. dlt writes nested decimals as JSON strings ("12.30").
#}
{% macro xero_array_sum(column) -%}
    arraySum(element -> toDecimal128OrZero(replaceAll(JSONExtractRaw(element, 'Amount'), '"', ''), 9), JSONExtractArrayRaw(ifNull({{ column }}, '[]')))
{%- endmacro %}
