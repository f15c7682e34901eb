{#
    The one instant a build measures against (ledger cutoff, cohort maturity, steps due, MRR "today"):
    the pinned instant (pinned_as_of), as the demo passes the simulator's clock and a backfill a past
    instant, or else the moment this dbt invocation started — the same value in every model of one
    build, unlike now(), which each model would evaluate when it runs.
#}
{% macro build_as_of() -%}
    {%- set pinned = pinned_as_of() -%}
    {%- if pinned -%}
        toDateTime64('{{ pinned }}', 3, 'UTC')
    {%- else -%}
        toDateTime64('{{ run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f")[:23] }}', 3, 'UTC')
    {%- endif -%}
{%- endmacro %}


{#
    The instant a build is pinned to (UTC, "2026-11-05 14:00:00"), or none: the `as_of` var
    (`--vars '{as_of: ...}'`), or else the REVOPS_AS_OF environment variable, which is what revops
    itself passes. The environment variable is read only when dbt executes, never while it parses:
    a value dbt sees at parse time (any `--vars`, or an env var a file reads then) is part of the
    parse, and a new one costs a full re-parse of the whole project (~8 s) on every build.
#}
{% macro pinned_as_of() -%}
    {{- return(execution_setting('as_of', 'REVOPS_AS_OF')) -}}
{%- endmacro %}


{#
    A setting of one build: the dbt var `name` if given, else the environment variable `env`, read
    only while dbt executes (at parse time it is none), else none.
#}
{% macro execution_setting(name, env) -%}
    {{- return(var(name, none) or (env_var(env, '') if execute else '') or none) -}}
{%- endmacro %}
