{#
    One row per key for a source whose deletions arrive as soft deletes (a row flagged by
    `deleted_column`, carrying little more than the key: QuickBooks' CDC `Deleted` stubs and the
    source's own tombstones): every column from the newest version that is not a deletion, plus
    `is_deleted` (the newest version of all is a deletion) and `deleted_synced_at` (when that deletion
    was fetched) and `deleted_meta_data` (its `meta_data`, for the deletion time QuickBooks reports).
    Keys only ever seen deleted are left out: nothing is known about them but that they are gone.
#}
{% macro deduplicate_soft_deleted(
    relation,
    key_columns=['workspace_id', 'id'],
    deleted_column='is_deleted'
) -%}
    with

    latest_version as (
        {{ deduplicate_latest(relation, key_columns=key_columns) }}
    ),

    live_versions as (
        select * from {{ relation }} where not ifNull({{ deleted_column }}, false)
    ),

    last_live as (
        {{ deduplicate_latest('live_versions', key_columns=key_columns) }}
    ),

    deletions as (
        select
            {{ key_columns | join(', ') }},
            toNullable(_revops_synced_at) as deleted_synced_at,
            meta_data as deleted_meta_data
        from latest_version
        where ifNull({{ deleted_column }}, false)
    )

    select
        last_live.* except ({{ deleted_column }}),
        -- Unmatched, the join fills the key with '' (ClickHouse defaults), never NULL.
        deletions.{{ key_columns[-1] }} != '' as {{ deleted_column }},
        deletions.deleted_synced_at as deleted_synced_at,
        deletions.deleted_meta_data as deleted_meta_data
    from last_live
    left join deletions
        on {% for column in key_columns %}last_live.{{ column }} = deletions.{{ column }}{{ ' and ' if not loop.last }}{% endfor %}
{%- endmacro %}


{#
    When a QuickBooks entity was deleted: the time its CDC stub reports, else (a tombstone written
    when a re-listing no longer found it) when the source noticed. NULL for live entities.
#}
{% macro qbo_deleted_at() -%}
    if(
        is_deleted,
        coalesce(
            parseDateTime64BestEffortOrNull({{ json_extract('deleted_meta_data', 'LastUpdatedTime') }}, 3, 'UTC'),
            toDateTime64(deleted_synced_at, 3, 'UTC')
        ),
        null
    )
{%- endmacro %}


{#
    Id of the first transaction of `txn_type` (Invoice, CreditMemo …) linked from any line of a
    QuickBooks transaction's `Line` JSON (`Line[].LinkedTxn[]`), NULL if none.
#}
{% macro qbo_linked_txn(line_column, txn_type) -%}
    nullIf(JSONExtractString(arrayFirst(
        linked -> JSONExtractString(linked, 'TxnType') = '{{ txn_type }}',
        arrayFlatten(arrayMap(l -> JSONExtractArrayRaw(l, 'LinkedTxn'), JSONExtractArrayRaw(ifNull({{ line_column }}, '[]'))))
    ), 'TxnId'), '')
{%- endmacro %}
