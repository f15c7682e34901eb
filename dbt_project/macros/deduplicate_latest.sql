{#
    One row per key: the newest version of each object in `relation` (a relation or a CTE name).

    Raw tables are ReplacingMergeTree and keep every fetched version until a background merge, which
    may never come, so staging cannot rely on FINAL. Versions are ordered by the fetch time, then by
    load id and row id, so that two versions fetched in the same microsecond (a re-loaded file)
    still resolve to the same row on every run.
#}
{% macro deduplicate_latest(
    relation,
    key_columns=['workspace_id', 'id'],
    version_columns=['_revops_synced_at', '_dlt_load_id', '_dlt_id']
) -%}
    select *
    from {{ relation }}
    order by
        {%- for column in key_columns %}
        {{ column }},
        {%- endfor %}
        {%- for column in version_columns %}
        {{ column }} desc{{ "," if not loop.last }}
        {%- endfor %}
    limit 1 by {{ key_columns | join(', ') }}
{%- endmacro %}
