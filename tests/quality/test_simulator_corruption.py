"""Records the simulator corrupts on the wire (`Faults(malformed=…)`: a non-integer amount, a
currency that is no ISO code, a missing timestamp) are rejected by the Stripe source into the one
quarantine (`raw.quarantined_records`, stage `extract`, with the reason and payload), fail the
quarantine's check, and never reach staging, while every other object does."""

from __future__ import annotations

from pathlib import Path

from revops.assets.ingestion import quarantine_check
from revops.core.warehouse import connect
from revops.pipelines.runner import ensure_raw_tables, load
from revops.pipelines.sources import STRIPE
from revops_simulator import Faults, SimulatorServer, World
from revops_simulator.registry import simulator_registry
from tests.pipelines.conftest import AS_OF, SCALE
from tests.support import run_dbt


def test_corrupted_records_are_rejected_with_reason_checked_and_absent_downstream(revops_home: Path) -> None:
    world = World(seed=5, as_of=AS_OF, scale=SCALE)
    with SimulatorServer(world, faults=Faults(malformed={"charges": 2, "customers": 1})) as server:
        for workspace in simulator_registry(world, server).with_provider("stripe"):
            assert load(STRIPE, workspace).ok
        truths = {ws.id: world.ground_truth(ws.id) for ws in world.workspaces}
    ensure_raw_tables()

    with connect() as client:
        rejected = client.query(
            "SELECT workspace_id, replaceOne(table_name, 'stripe_', ''), record_id, reason "
            "FROM raw.quarantined_records FINAL WHERE stage = 'extract' AND payload != ''"
        ).result_rows
    for workspace_id, truth in truths.items():
        for resource in ("charges", "customers"):
            expected = truth.malformed_ids[resource]
            got = {row[2]: row[3] for row in rejected if row[0] == workspace_id and row[1] == resource}
            assert set(got) == expected
            assert all(reason for reason in got.values())

    check = quarantine_check([STRIPE])()
    assert not check.passed
    assert check.metadata["quarantined_records"].value == sum(
        len(ids) for truth in truths.values() for ids in truth.malformed_ids.values()
    )

    run_dbt(
        revops_home, "build", "--select", "staging.stripe", "--indirect-selection", "cautious", "--quiet"
    ).assert_ok()
    with connect() as client:
        for workspace_id, truth in truths.items():
            # Customers deleted before the load come in as Stripe's deleted stubs (objects name them),
            # which lists omit: the live ones are the listed ones.
            for model, resource, key, deleted in (
                ("stg_stripe__charges", "charges", "charge_id", "false"),
                ("stg_stripe__customers", "customers", "customer_id", "is_deleted"),
            ):
                staged = dict(
                    client.query(
                        f"SELECT {key}, {deleted} FROM staging.{model} WHERE workspace_id = {{ws:String}}",
                        parameters={"ws": workspace_id},
                    ).result_rows
                )
                every = {obj["id"] for obj in truth.objects[resource]}
                live = {object_id for object_id, is_deleted in staged.items() if not is_deleted}
                assert live == every - truth.malformed_ids[resource], (workspace_id, model)
                assert set(staged) - live <= truth.deleted_ids.get(resource, set()), (workspace_id, model)
