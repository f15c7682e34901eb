{#
    The one instant a build measures against (ledger cutoff, cohort maturity, steps due, MRR "today"):
    the `as_of` var (`--vars '{as_of: "2026-11-05 14:00:00"}'`, UTC), as the demo passes the simulator's
    clock and a backfill a past instant, or else the moment this dbt invocation started — the same
    value in every model of one build, unlike now(), which each model would evaluate when it runs.
#}
{% macro build_as_of() -%}
    {%- if var('as_of', none) -%}
        toDateTime64('{{ var("as_of") }}', 3, 'UTC')
    {%- else -%}
        toDateTime64('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:23] }}', 3, 'UTC')
    {%- endif -%}
{%- endmacro %}
