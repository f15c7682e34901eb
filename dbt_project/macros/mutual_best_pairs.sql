{#
    The pairs of `candidates` (a relation or CTE with `workspace_id`, `left_key`, `right_key`) that
    are each other's first choice by `order_by` (ids break ties, so the result is deterministic).
    Each left and each right key appears in at most one pair: nothing is matched twice.
#}
{% macro mutual_best_pairs(candidates, left_key, right_key, order_by) -%}
    select * except (left_rank, right_rank)
    from (
        select
            *,
            row_number() over (
                partition by workspace_id, {{ left_key }} order by {{ order_by }}, {{ right_key }}
            ) as left_rank,
            row_number() over (
                partition by workspace_id, {{ right_key }} order by {{ order_by }}, {{ left_key }}
            ) as right_rank
        from {{ candidates }}
    )
    where left_rank = 1 and right_rank = 1
{%- endmacro %}
