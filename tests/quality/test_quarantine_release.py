"""`revops quarantine list|release` (issue 16). A charge whose currency is no ISO code is quarantined and
left out of staging; its fix lands (the provider corrected it, the next sync loaded it) and it is still
left out, because the quarantine holds it; released, it is validated again, an audit row says who
released it, when and why, and the next build stages it. A record still bad when released stays out."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from revops.cli.main import app
from revops.core.settings import get_settings
from revops.core.warehouse import connect
from revops.pipelines.runner import ensure_raw_tables
from revops.quality.quarantine import quarantined
from revops.quality.rules import RAW_TABLE_RULES
from revops.quality.validation import validate_tables
from revops_simulator import Faults, SimulatorServer, World
from tests.dbt.stripe_raw_fixture import SECOND_SYNC, WS_A, WS_B, _insert, load_raw_fixture, raw_contracts
from tests.pipelines.conftest import AS_OF, SCALE
from tests.support import load_simulated, run_dbt

CHARGES = "stripe_charges"


def _new_version(latest: dict[str, Any], hours: int, **changes: Any) -> dict[str, Any]:
    """A later fetch of the charge, as a later sync would load it."""
    synced_at = SECOND_SYNC + timedelta(hours=hours)
    return {
        **latest,
        **changes,
        "_revops_synced_at": synced_at,
        "_dlt_load_id": f"{synced_at.timestamp():.6f}",
        "_dlt_id": f"fix{hours}",
    }


def _staged_currencies() -> dict[tuple[str, str], str]:
    with connect() as client:
        rows = client.query("SELECT workspace_id, charge_id, currency FROM staging.stg_stripe__charges")
        return {(row[0], row[1]): row[2] for row in rows.result_rows}


def test_a_released_record_reaches_staging_after_its_fix_and_the_release_is_audited(
    revops_home: Path,
) -> None:
    columns = raw_contracts()[CHARGES]
    with connect() as client:
        rows = load_raw_fixture(client)[CHARGES]
        latest = {row["id"]: row for row in rows if row["workspace_id"] == WS_A}  # fixture: v2 after v1
        _insert(client, CHARGES, columns, [_new_version(latest["ch_1"], 1, currency="zzz")])
        _insert(client, CHARGES, columns, [_new_version(latest["ch_2"], 1, currency="qqq")])
        validate_tables([RAW_TABLE_RULES[CHARGES]], client)
    ensure_raw_tables()

    listed = CliRunner().invoke(app, ["quarantine", "list", "--table", CHARGES], terminal_width=200)
    assert listed.exit_code == 0, listed.output
    assert "ch_1" in listed.output and "ch_2" in listed.output and "2 quarantined" in listed.output

    # ch_1 is fixed at the provider and synced again; ch_2 is not.
    with connect() as client:
        _insert(client, CHARGES, columns, [_new_version(latest["ch_1"], 2, currency="eur")])
    run_dbt(revops_home, "run", "--select", "stg_stripe__charges", "--quiet").assert_ok()
    staged = _staged_currencies()
    assert (WS_A, "ch_1") not in staged and (WS_A, "ch_2") not in staged
    assert staged[WS_B, "ch_1"]  # the other workspace's same-id charge was never quarantined

    released = CliRunner().invoke(
        app, ["quarantine", "release", "--table", CHARGES, "--why", "provider corrected currency"]
    )
    assert released.exit_code == 1, released.output  # ch_2 still fails
    assert "1 released, 1 still quarantined" in released.output

    run_dbt(revops_home, "run", "--select", "stg_stripe__charges", "--quiet").assert_ok()
    staged_after = _staged_currencies()
    assert staged_after[WS_A, "ch_1"] == "EUR"  # staging writes codes upper case
    assert (WS_A, "ch_2") not in staged_after
    assert staged_after[WS_B, "ch_1"] == staged[WS_B, "ch_1"]

    with connect() as client:
        audit = list(
            client.query(
                "SELECT workspace_id, table_name, record_id, released_by, why, released_at "
                "FROM raw.quarantine_releases"
            ).named_results()
        )
        still = client.query(
            "SELECT workspace_id, record_id FROM raw.quarantined_records FINAL WHERE table_name = {t:String}",
            parameters={"t": CHARGES},
        ).result_rows
    assert [(row["workspace_id"], row["table_name"], row["record_id"]) for row in audit] == [
        (WS_A, CHARGES, "ch_1")
    ]
    assert audit[0]["why"] == "provider corrected currency" and audit[0]["released_by"]
    assert still == [(WS_A, "ch_2")]


def test_a_rejected_stripe_object_is_fetched_again_on_release_and_reaches_staging(
    revops_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Stripe source's rejections are quarantine entries (stage `extract`, with the payload); a
    release while the provider still serves the object malformed keeps it quarantined, one after the
    provider's fix fetches it again by id, loads it and audits it, and the next build stages it."""
    world = World(seed=5, as_of=AS_OF, scale=SCALE)
    with SimulatorServer(world, faults=Faults(malformed={"charges": 1})) as server:
        load_simulated(world, server, sources=["stripe"])
        malformed = {ws.id: world.ground_truth(ws.id).malformed_ids["charges"] for ws in world.workspaces}
        registry = tmp_path / "workspaces.toml"
        registry.write_text(
            "".join(
                f'[workspaces.{ws.id}]\nname = "{ws.id}"\n[workspaces.{ws.id}.stripe]\n'
                f'api_base = "{server.stripe_base_url}"\napi_key = "{ws.stripe_api_key}"\n\n'
                for ws in world.workspaces
            )
        )
        monkeypatch.setenv("REVOPS_WORKSPACES_FILE", str(registry))
        get_settings.cache_clear()
        acme, globex = (ws.id for ws in world.workspaces)
        (charge_id,) = malformed[acme]
        with connect() as client:
            entries = {(e.workspace_id, e.record_id): e for e in quarantined(client) if e.stage == "extract"}
        assert set(entries) == {(ws, charge) for ws, ids in malformed.items() for charge in ids}
        assert entries[acme, charge_id].table_name == CHARGES and entries[acme, charge_id].payload
        entry_id = entries[acme, charge_id].entry_id

        release = ["quarantine", "release", entry_id, "--why", "Stripe fixed the amount"]
        still = CliRunner().invoke(app, release)
        assert still.exit_code == 1 and "0 released, 1 still quarantined" in still.output, still.output

        server.faults = Faults()  # the provider's fix
        released = CliRunner().invoke(app, release)
        assert released.exit_code == 0 and "1 released" in released.output, released.output

    ensure_raw_tables()
    run_dbt(revops_home, "run", "--select", "stg_stripe__charges", "--quiet").assert_ok()
    staged = _staged_currencies()
    assert (acme, charge_id) in staged
    assert not any((globex, charge) in staged for charge in malformed[globex])  # not released
    with connect() as client:
        audit = client.query(
            "SELECT workspace_id, record_id, stage, why FROM raw.quarantine_releases"
        ).result_rows
        left = {(e.workspace_id, e.record_id) for e in quarantined(client)}
    assert audit == [(acme, charge_id, "extract", "Stripe fixed the amount")]
    assert left == {(globex, charge) for charge in malformed[globex]}
