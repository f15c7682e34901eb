"""dlt's own inspection works on revops pipelines (issue 16): `dlt pipeline <name> info`, `trace`,
`failed-jobs` and `schema` restore the pipeline from its state in another process, which needs the
destination revops loads through to be importable by the name the state records."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import dlt

from revops.core.settings import get_settings
from revops.pipelines.loading import declare_contracts
from revops.pipelines.runner import pipeline_for, run_pipeline


def _dlt(*args: str) -> subprocess.CompletedProcess[str]:
    pipelines_dir = str(get_settings().dlt_pipelines_dir)
    return subprocess.run(
        [
            str(Path(sys.executable).with_name("dlt")),
            "--non-interactive",
            "pipeline",
            "--pipelines-dir",
            pipelines_dir,
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_dlt_pipeline_commands_succeed_on_a_revops_pipeline(revops_home: Path) -> None:
    @dlt.source(name="inspection", max_table_nesting=0)
    def inspection() -> object:
        declare_contracts(
            dlt.current.source_schema(), {"inspected_rows": ({"id": "text"}, ("workspace_id", "id"))}
        )
        synced_at = datetime.now(UTC)

        @dlt.resource(name="inspected_rows", primary_key=("workspace_id", "id"), write_disposition="merge")
        def rows() -> Iterator[dict[str, object]]:
            for number in range(3):
                yield {"id": f"row_{number}", "workspace_id": "acme", "_revops_synced_at": synced_at}

        return rows

    pipeline = pipeline_for("inspection", "acme")
    assert run_pipeline(pipeline, inspection()) == {"inspected_rows": 3}

    info = _dlt("inspection_acme", "info")
    assert info.returncode == 0, info.stdout + info.stderr
    assert "revops_clickhouse" in info.stdout and "inspected_rows" in info.stdout
    for command in ("trace", "failed-jobs", "schema"):
        completed = _dlt("inspection_acme", command)
        assert completed.returncode == 0, (command, completed.stdout + completed.stderr)
