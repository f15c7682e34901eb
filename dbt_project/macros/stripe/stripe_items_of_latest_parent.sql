{#
    Rows of an item table (subscription items, invoice lines) that belong to the latest fetch of
    their parent.

    Item tables are re-derived from the parent's embedded list on every fetch of the parent, and
    each item row carries the parent's `_revops_synced_at`. An item removed from a subscription
    simply stops appearing in later fetches, so its old rows stay in raw forever; keeping only
    items stamped with the parent's latest fetch time makes removed items disappear. The parent's
    latest fetch comes from the parent table, not from the items, so a parent whose latest fetch
    has no items at all (an emptied draft invoice) has none here either, and the items of a
    quarantined parent are left out with it.
#}
{% macro stripe_items_of_latest_parent(items_relation, parent_relation, parent_key) -%}
    select items.*
    from {{ items_relation }} as items
    inner join (
        select
            workspace_id,
            id,
            max(_revops_synced_at) as latest_synced_at
        from ({{ exclude_quarantined(parent_relation) }})
        group by workspace_id, id
    ) as parents
        on items.workspace_id = parents.workspace_id
        and items.{{ parent_key }} = parents.id
        and items._revops_synced_at = parents.latest_synced_at
{%- endmacro %}
