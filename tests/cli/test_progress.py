"""`revops run`'s progress (issue 16): the per-workspace lines the ingestion steps log advance a progress
bar per step in a terminal and print as plain lines when piped; the printer reads each event-log record
once (from a cursor), however long the run."""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from rich.console import Console

from revops.assets.ingestion import workspace_progress_line
from revops.cli.running import _ProgressPrinter
from revops.pipelines.runner import WorkspaceLoad


def _log(step: str, message: str) -> Any:
    return SimpleNamespace(
        event_log_entry=SimpleNamespace(dagster_event=None, user_message=message, step_key=step)
    )


@dataclass
class FakeEventLog:
    """An instance's event log as the printer reads it: records after a cursor, and the new cursor."""

    records: list[Any] = field(default_factory=list)
    cursors_asked: list[str | None] = field(default_factory=list)
    served: int = 0

    def get_records_for_run(self, run_id: str, cursor: str | None = None) -> Any:
        self.cursors_asked.append(cursor)
        start = int(cursor) if cursor else 0
        batch = self.records[start:]
        self.served += len(batch)
        return SimpleNamespace(records=batch, cursor=str(len(self.records)))


def _lines(total: int) -> list[Any]:
    return [
        _log(
            "stripe_raw",
            workspace_progress_line("stripe", WorkspaceLoad(f"ws{n}", "stripe", {"t": n}), n, total),
        )
        for n in range(1, total + 1)
    ]


def test_piped_progress_is_plain_lines_and_each_record_is_read_once() -> None:
    out = io.StringIO()
    log = FakeEventLog()
    printer = _ProgressPrinter(log, "run", Console(file=out, force_terminal=False, width=200))  # type: ignore[arg-type]
    lines = _lines(3)
    log.records.extend(lines[:2])
    printer.flush()
    log.records.extend(lines[2:])
    printer.flush()
    printer.flush()
    printer.close()
    text = out.getvalue()
    assert [line.strip() for line in text.splitlines()] == [
        f"loaded stripe ws{n} ({n}/3): {n} rows in 0.0s" for n in (1, 2, 3)
    ]
    assert log.served == 3  # not 2 + 3 + 3 + 3: each flush continues from the last cursor
    assert log.cursors_asked == [None, "2", "3", "3"]


def test_in_a_terminal_each_ingestion_step_has_a_bar_advancing_per_workspace() -> None:
    out = io.StringIO()
    log = FakeEventLog()
    printer = _ProgressPrinter(log, "run", Console(file=out, force_terminal=True, width=120))  # type: ignore[arg-type]
    assert printer._bars is not None
    log.records.extend(_lines(2)[:1])
    printer.flush()
    (task,) = printer._bars.tasks
    assert (task.description, task.completed, task.total) == ("load stripe", 1, 2)
    log.records.extend(_lines(2)[1:])
    printer.flush()
    assert (task.completed, task.total) == (2, 2) and task.finished
    log.records.append(
        SimpleNamespace(
            event_log_entry=SimpleNamespace(
                dagster_event=SimpleNamespace(event_type_value="STEP_SUCCESS", step_key="stripe_raw")
            )
        )
    )
    printer.flush()
    printer.close()
    assert not printer._bars.tasks  # the step is over: its bar gives way to its ✓ line
    assert "stripe_raw" in out.getvalue() and "✓" in out.getvalue()
    assert "loaded stripe" not in out.getvalue()  # the bar says it, not a line per workspace
