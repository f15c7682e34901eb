{#
    Each mart and the dbt sources upstream of it, walked through the project's graph (every model,
    seed and snapshot between them), so the list follows the models as they change: no hand list to
    drift. Returns [[relation, [source name, …]], …] sorted by relation, the relation as
    `schema.table` (how the API and the warehouse name it). Sources whose `meta.loaded_by` is
    `revops` (the load log, the dunning log) are tables revops writes itself, not a provider's data,
    and are left out. Empty at parse time: the graph is complete only when models execute. The var
    `mart_provider_lineage` replaces the walk, for unit tests, which have no graph.
#}
{% macro mart_provider_lineage(exclude=[]) -%}
    {%- if var('mart_provider_lineage', none) is not none -%}
        {{ return(var('mart_provider_lineage')) }}
    {%- endif -%}
    {%- set lineage = [] -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and node.fqn[1] == 'marts' and node.name not in exclude -%}
            {%- set seen = {} -%}
            {%- set queue = [node.unique_id] -%}
            {%- set providers = [] -%}
            {#- A breadth-first walk: the loop also visits what it appends to the queue. -#}
            {%- for unique_id in queue -%}
                {%- set upstream = graph.nodes.get(unique_id) or graph.sources.get(unique_id) -%}
                {%- if unique_id.startswith('source.') -%}
                    {%- if (upstream.meta or {}).get('loaded_by') != 'revops'
                        and upstream.source_name not in providers -%}
                        {%- do providers.append(upstream.source_name) -%}
                    {%- endif -%}
                {%- else -%}
                    {%- for parent in upstream.depends_on.nodes if parent not in seen -%}
                        {%- do seen.update({parent: true}) -%}
                        {%- do queue.append(parent) -%}
                    {%- endfor -%}
                {%- endif -%}
            {%- endfor -%}
            {%- do lineage.append([node.schema ~ '.' ~ (node.alias or node.name), providers | sort]) -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(lineage | sort(attribute=0)) }}
{%- endmacro %}
