"""Nothing leaves the machine but provider calls: dlt's anonymous tracker never starts in revops."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PROGRAM = """
import json, threading
from revops.pipelines.runner import pipeline_for
pipeline = pipeline_for("stripe", "acme")
pipeline.extract([{"id": 1}], table_name="probe")
from dlt.common.runtime import anon_tracker
print(json.dumps({
    "endpoint": anon_tracker._ANON_TRACKER_ENDPOINT,
    "threads": [thread.name for thread in threading.enumerate()],
}))
"""


def _tracker(tmp_path: Path, **env: str) -> dict[str, object]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("REVOPS_", "RUNTIME__", "DLT_"))}
    completed = subprocess.run(
        [sys.executable, "-c", PROGRAM],
        env=clean | {"REVOPS_HOME": str(tmp_path)} | env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_dlt_never_starts_its_anonymous_tracker(tmp_path: Path) -> None:
    tracker = _tracker(tmp_path)
    assert tracker["endpoint"] is None
    assert not any(str(name).startswith("anon_tracker") for name in tracker["threads"])  # type: ignore[union-attr]


def test_the_probe_sees_a_tracker_when_one_is_started(tmp_path: Path) -> None:
    """The check above can fail: with telemetry switched on explicitly, the same probe sees it."""
    tracker = _tracker(tmp_path, RUNTIME__DLTHUB_TELEMETRY="true")
    assert tracker["endpoint"] is not None
    assert any(str(name).startswith("anon_tracker") for name in tracker["threads"])  # type: ignore[union-attr]
