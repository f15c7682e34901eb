"""QuickBooks sends LastUpdatedTime in the realm's local time: the cursor must compare instants, so
changes made in the hour repeated when daylight saving time ends are not skipped."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from revops.core.warehouse import connect
from revops.pipelines.runner import load
from revops.pipelines.sources import QUICKBOOKS
from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.business.books import Books
from revops_simulator.quickbooks.api import render_books
from revops_simulator.registry import simulator_registry

# 2026-11-01 is the first Sunday of November: Los Angeles falls back from 02:00 PDT to 01:00 PST.
BEFORE_SWITCH = datetime(2026, 11, 1, 8, 45, tzinfo=UTC)  # 01:45 PDT (-07:00)
AFTER_SWITCH = datetime(2026, 11, 1, 9, 30, tzinfo=UTC)  # 01:30 PST (-08:00)


def _touched(books: Books, changes: dict[int, datetime]) -> Books:
    """The books with invoices (by position) last updated at the given instants."""
    invoices = list(books.invoices)
    for index, moment in changes.items():
        invoices[index] = replace(invoices[index], updated=int(moment.timestamp()))
    return replace(books, invoices=invoices)


def test_a_change_in_the_repeated_autumn_hour_is_loaded(revops_home: Path) -> None:
    world = World(seed=7, as_of=BEFORE_SWITCH, scale=0.1)
    real = world.books("acme").invoices
    first, second, third = (real.index(i) for i in [i for i in real if i.deleted_at is None][:3])
    early = {
        first: datetime(2026, 11, 1, 8, 20, tzinfo=UTC),  # 01:20 PDT
        second: datetime(2026, 11, 1, 8, 40, tzinfo=UTC),  # 01:40 PDT: the cursor
    }
    books = _touched(world.books("acme"), early)
    world.books = lambda workspace_id: books  # type: ignore[method-assign]
    with SimulatorServer(world, faults=Faults()) as server:
        (workspace,) = simulator_registry(world, server).with_provider("quickbooks")
        assert load(QUICKBOOKS, workspace).ok
        before = {obj["Id"]: obj for obj in render_books(books).live["Invoice"]}
        world.advance_to(AFTER_SWITCH)
        late = {third: datetime(2026, 11, 1, 9, 10, tzinfo=UTC)}  # 01:10 PST: after the cursor in time
        books = _touched(_touched(World.books(world, "acme"), early), late)
        result = load(QUICKBOOKS, workspace)
        assert result.ok, result.error
    changed = str(books.invoices[third].number)
    with connect() as client:
        updated = client.command(
            "SELECT JSONExtractString(meta_data, 'LastUpdatedTime') FROM raw.qbo_invoices FINAL "
            "WHERE workspace_id = 'acme' AND id = {id:String}",
            parameters={"id": changed},
        )
    assert updated == "2026-11-01T01:10:00-08:00"
    # Exactly the invoices that changed, this one among them, were read again.
    changed_ids = {obj["Id"] for obj in render_books(books).live["Invoice"] if before.get(obj["Id"]) != obj}
    assert changed in changed_ids and result.rows_by_table.get("qbo_invoices") == len(changed_ids)
