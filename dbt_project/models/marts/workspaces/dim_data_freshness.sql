{{ config(order_by=['workspace_id', 'mart']) }}

-- How current each workspace's data is in each mart, as this build left it: the oldest last successful
-- sync among the providers the mart reads (its dbt lineage, macros/mart_lineage.sql) that the
-- workspace is connected to. A table, built with the marts: a load ending after the build does not
-- make a mart built before it newer.
--
-- A mart is stale for a workspace when one of those providers' latest attempt failed, none ever
-- succeeded, or its last success is from a day before the build's as-of day (`build_as_of()`, today
-- at the latest): the mart was rebuilt, but over that provider's older data. A mart reading no provider (dim_connections,
-- a view over the load log) is current to the workspace's latest attempt and never stale.

{%- set lineage = mart_provider_lineage(exclude=[this.name]) %}

with

lineage as (

    select tupleElement(mart_sources, 1) as mart, tupleElement(mart_sources, 2) as providers
    from (
        select arrayJoin(
            cast(
                [{% for mart, providers in lineage %}('{{ mart }}', [{% for provider in providers %}'{{ provider }}'{{ ',' if not loop.last }}{% endfor %}]){{ ',' if not loop.last }}{% endfor %}],
                'Array(Tuple(String, Array(String)))'
            )
        ) as mart_sources
    )

),

connections as (

    select * from {{ ref('dim_connections') }}

),

-- The build's day, today at the latest: a simulated build ahead of the wall clock cannot have synced
-- on its own day, which makes nothing stale.
as_of_day as (

    select toDate(least({{ build_as_of() }}, now64(3, 'UTC'))) as as_of_day

),

mart_providers as (

    select mart, arrayJoin(providers) as provider from lineage

),

provider_marts as (

    select
        connections.workspace_id as workspace_id,
        mart_providers.mart as mart,
        arraySort(groupArray(connections.provider)) as providers,
        -- NULL while one of them has never synced: the mart has none of that provider's data yet.
        if(countIf(connections.last_success_at is null) > 0, null, min(connections.last_success_at))
            as data_as_of,
        arraySort(
            groupArrayIf(
                connections.provider,
                not connections.last_attempt_succeeded
                or connections.last_success_at is null
                or toDate(assumeNotNull(connections.last_success_at)) < as_of_day
            )
        ) as stale_providers
    from mart_providers
    inner join connections on mart_providers.provider = connections.provider
    cross join as_of_day
    group by workspace_id, mart

),

log_marts as (

    select
        workspaces.workspace_id as workspace_id,
        lineage.mart as mart,
        cast([], 'Array(String)') as providers,
        toNullable(workspaces.last_attempt_at) as data_as_of,
        cast([], 'Array(String)') as stale_providers
    from lineage
    cross join (
        select workspace_id, max(last_attempt_at) as last_attempt_at from connections group by workspace_id
    ) as workspaces
    where empty(lineage.providers)

),

final as (

    select
        workspace_id,
        mart,
        providers,
        data_as_of,
        toBool(notEmpty(stale_providers)) as is_stale,
        stale_providers,
        {{ build_as_of() }} as build_as_of
    from (
        select * from provider_marts
        union all
        select * from log_marts
    )

)

select * from final
