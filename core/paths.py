"""Where the repository's own files live, independent of the working directory."""

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DAGSTER_INSTANCE_CONFIG = REPO_ROOT / "dagster.yaml"
