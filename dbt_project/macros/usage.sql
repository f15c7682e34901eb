{#
    Usage metering helpers (models/*/usage; docs/usage.md).

    The daily usage models are incremental with `insert_overwrite`: each run recomputes whole days
    and swaps those day partitions in. Which days (inclusive): the vars `usage_start_date` and
    `usage_end_date` (`--vars '{usage_start_date: 2026-10-30, usage_end_date: 2026-11-01}'`), or else
    the REVOPS_USAGE_START_DATE and REVOPS_USAGE_END_DATE environment variables, which is what the
    Dagster partitions pass (read only when dbt executes: see pinned_as_of for why); every day when
    neither is set (a plain `revops-dbt build`). Recomputing a day from the deduplicated events gives
    the same rows however often it runs: nothing is ever added twice. With `whole_months`, the filter
    widens to the whole months of those days, for models partitioned by month.
#}
{% macro usage_days_filter(date_column, whole_months=false) -%}
    {%- set start = execution_setting('usage_start_date', 'REVOPS_USAGE_START_DATE') -%}
    {%- set end = execution_setting('usage_end_date', 'REVOPS_USAGE_END_DATE') -%}
    {%- if start is not none and end is not none and whole_months -%}
        {{ date_column }} between toStartOfMonth(toDate('{{ start }}')) and toLastDayOfMonth(toDate('{{ end }}'))
    {%- elif start is not none and end is not none -%}
        {{ date_column }} between toDate('{{ start }}') and toDate('{{ end }}')
    {%- else -%}
        1 = 1
    {%- endif -%}
{%- endmacro %}


{#
    The raw JSON text at `keys` (an Array(String) column, one to three keys) inside `data`: a
    meter's value path is data, not SQL, so the keys come from a column.
#}
{% macro usage_json_raw(data, keys) -%}
    multiIf(
        length({{ keys }}) = 1, JSONExtractRaw({{ data }}, {{ keys }}[1]),
        length({{ keys }}) = 2, JSONExtractRaw({{ data }}, {{ keys }}[1], {{ keys }}[2]),
        JSONExtractRaw({{ data }}, {{ keys }}[1], {{ keys }}[2], {{ keys }}[3])
    )
{%- endmacro %}


{#
    A JSON value as text: a string unquoted and unescaped, a number with exactly its digits.
#}
{% macro usage_json_text(raw) -%}
    if(startsWith({{ raw }}, '"'), JSONExtractString(concat('[', {{ raw }}, ']'), 1), {{ raw }})
{%- endmacro %}


{#
    Every (event, meter) pair of the deduplicated events in `relation` passing `where`: the meter's
    value (exact decimal, or text for UNIQUE_COUNT) and its group-by values as a JSON object.
    Events of a type no meter counts are left out; values that are not numbers where a meter sums,
    maxes or takes the latest are NULL and so ignored by those aggregates.
#}
{% macro usage_metered_events(relation, where='1 = 1') -%}
    select
        events.workspace_id as workspace_id,
        events.customer_id as customer_id,
        meters.meter_slug as meter_slug,
        meters.aggregation as aggregation,
        events.event_id as event_id,
        events.event_at as event_at,
        events.event_date as event_date,
        toJSONString(mapFromArrays(
            arrayMap(dimension -> dimension.1, meters.group_by),
            arrayMap(dimension -> {{ usage_json_text(usage_json_raw('events.data', 'dimension.2')) }}, meters.group_by)
        )) as group_key,
        if(meters.aggregation = 'UNIQUE_COUNT',
           {{ usage_json_text(usage_json_raw('events.data', 'meters.value_keys')) }},
           null) as value_text,
        if(meters.aggregation in ('SUM', 'MAX', 'LATEST'),
           toDecimal128OrNull({{ usage_json_text(usage_json_raw('events.data', 'meters.value_keys')) }}, 9),
           null) as value_decimal
    from {{ relation }} as events
    inner join {{ ref('stg_usage__meters') }} as meters
        on meters.workspace_id = events.workspace_id and meters.event_type = events.event_type
    where {{ where }}
{%- endmacro %}


{#
    Aggregate states of metered events (or, with `merge`, of finer-window states): one column per
    aggregation, so windows of any size and any set of group keys merge exactly.
#}
{% macro usage_states(merge=false) -%}
    {%- if merge -%}
        countMergeState(event_count_state) as event_count_state,
        sumMergeState(sum_state) as sum_state,
        uniqExactMergeState(unique_state) as unique_state,
        maxMergeState(max_state) as max_state,
        argMaxMergeState(latest_state) as latest_state
    {%- else -%}
        countState() as event_count_state,
        sumState(value_decimal) as sum_state,
        uniqExactState(value_text) as unique_state,
        maxState(value_decimal) as max_state,
        argMaxState(value_decimal, (event_at, event_id)) as latest_state
    {%- endif -%}
{%- endmacro %}


{#
    A meter's value from merged states, as Decimal(38, 9), by its aggregation. NULL when a SUM, MAX
    or LATEST meter saw no numeric value.
#}
{% macro usage_meter_value(aggregation='aggregation') -%}
    multiIf(
        {{ aggregation }} = 'COUNT', toDecimal128(countMerge(event_count_state), 9),
        {{ aggregation }} = 'SUM', toDecimal128(sumMerge(sum_state), 9),
        {{ aggregation }} = 'UNIQUE_COUNT', toDecimal128(uniqExactMerge(unique_state), 9),
        {{ aggregation }} = 'MAX', toDecimal128(maxMerge(max_state), 9),
        toDecimal128(argMaxMerge(latest_state), 9)
    )
{%- endmacro %}
