"""Where the repository's own files live, independent of the working directory."""

from pathlib import Path

# src/revops/core/paths.py: the checkout (or image directory) revops is installed from in editable mode.
REPO_ROOT = Path(__file__).resolve().parents[3]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DAGSTER_INSTANCE_CONFIG = REPO_ROOT / "dagster.yaml"
