{#
    `select *` from a raw relation without the records quarantined by the raw-table expectations
    (`raw.quarantined_records` at stage `validate`, written by `quality/` before dbt runs). Entries of
    stage `extract` (a source rejected the object as it arrived) never reached the raw table; an
    earlier good version of the same object there stays staged.

    An anti-join on (workspace_id, key) as `not in` over tuples: ClickHouse's LEFT JOIN fills
    unmatched right-side columns with default values, not NULL, so `is null` anti-joins misfire.
    The keys are never NULL (raw tables' key columns are not nullable). Before the quarantine table
    exists (a warehouse never validated) nothing is excluded.
#}
{% macro exclude_quarantined(relation, key='id') -%}
    {%- set quarantine = adapter.get_relation(database=none, schema='raw', identifier='quarantined_records') if execute else none -%}
    select * from {{ relation }}
    {%- if quarantine is not none %}
    where (workspace_id, {{ key }}) not in (
        select workspace_id, record_id
        from {{ quarantine }}
        where table_name = '{{ relation.identifier }}' and stage != 'extract'
    )
    {%- endif %}
{%- endmacro %}
