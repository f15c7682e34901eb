"""The one Definitions of revops, built from the per-domain modules where the providers are chosen.

`defs` is what Dagster loads (`dagster dev`, `dagster api grpc -m revops.assets.definitions`): it is
built when the code location loads, from the settings, and fails right there, in one line naming the
setting, when production has no workspace registry. `build_definitions` is the same for callers that
choose the providers themselves (`revops run`, the demo, tests).
"""

from __future__ import annotations

from collections.abc import Sequence

from dagster import Definitions, definitions, in_process_executor

from revops.assets import freshness, kpis, reporting, transformation, usage
from revops.assets.dunning import DunningResource, dunning_definitions
from revops.assets.ingestion import ingestion_definitions
from revops.assets.jobs import job_definitions
from revops.assets.resources import ProviderAccountsResource, providers_from
from revops.core.settings import Settings, get_settings
from revops.pipelines.sources import SOURCES, SourceSpec


def build_definitions(
    settings: Settings | None = None,
    *,
    providers: ProviderAccountsResource | None = None,
    dunning: DunningResource | None = None,
    sources: Sequence[SourceSpec] = SOURCES,
) -> Definitions:
    """revops' Definitions; `providers` and `dunning` default to what `settings` configures."""
    settings = settings or get_settings()
    # First, so that a missing production setting fails the load before anything is built.
    providers = providers or providers_from(settings)
    return Definitions.merge(
        ingestion_definitions(sources),
        transformation.defs,
        freshness.defs,
        dunning_definitions(dunning or DunningResource.from_settings(settings)),
        usage.defs,
        kpis.defs,
        reporting.defs,
        job_definitions(sources),
        Definitions(
            resources={"providers": providers},
            # Steps run one after another in the run's process: the embedded warehouse is opened by one
            # process at a time, and the dbt step hands it to its own subprocess only when loading is done.
            executor=in_process_executor,
        ),
    )


@definitions
def defs() -> Definitions:
    return build_definitions()
