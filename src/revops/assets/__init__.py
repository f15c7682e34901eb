"""Dagster definitions for revops: every warehouse table is an asset."""

import warnings

from dagster import BetaWarning

# Dagster (1.13) re-creates every sensor with an `owners` argument when it attaches resources to jobs,
# and warns that the argument is beta although revops never passes it: on every run and load.
warnings.filterwarnings(
    "ignore", message=r"Parameter `owners` of initializer `SensorDefinition.__init__`", category=BetaWarning
)
