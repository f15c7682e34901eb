"""Per-tenant BI users, as far as the embedded engine allows: every statement is ClickHouse SQL (parsed
by chDB's own parser), the row policies' USING expression, evaluated over both tenants' rows of every
granted mart, selects exactly one tenant, and the command refuses the embedded warehouse."""

from __future__ import annotations

import re

import pytest
from typer.testing import CliRunner

from revops.cli.main import app
from revops.core.bi_users import BiUserError, plan_bi_user, redacted
from revops.core.ddl import Dialect
from revops.core.warehouse import connect
from tests.conftest import SimulatedWarehouse

WORKSPACES = ("acme", "globex")
USING = re.compile(r" USING (.+) AS PERMISSIVE TO ")


@pytest.mark.parametrize("dialect", [Dialect(), Dialect("revops")], ids=["server", "cluster"])
def test_every_statement_parses_as_clickhouse_sql(
    simulated_warehouse: SimulatedWarehouse, dialect: Dialect
) -> None:
    with simulated_warehouse.open(), connect() as client:
        plan = plan_bi_user(client, "acme", dialect=dialect)
        statements = plan.statements("s3cret'pass")
        for statement in statements:
            assert client.query("SELECT formatQuery({q:String})", parameters={"q": statement}).result_rows
    assert statements[0].startswith("CREATE USER IF NOT EXISTS `revops_bi_acme`")
    assert sum(s.startswith("CREATE ROW POLICY") for s in statements) == len(plan.tenant_tables)
    assert all(s.split(" ON CLUSTER ")[0] for s in statements)
    assert "s3cret" not in "\n".join(redacted(s) for s in statements)


@pytest.mark.parametrize("workspace", WORKSPACES)
def test_the_policy_selects_exactly_one_tenant_on_every_granted_mart(
    simulated_warehouse: SimulatedWarehouse, workspace: str
) -> None:
    other = next(w for w in WORKSPACES if w != workspace)
    with simulated_warehouse.open(), connect() as client:
        plan = plan_bi_user(client, workspace)
        tenant_marts = {
            row[0]
            for row in client.query(
                "SELECT c.table FROM system.columns AS c INNER JOIN system.tables AS t "
                "ON t.database = c.database AND t.name = c.table WHERE c.database = 'marts' "
                "AND c.name = 'workspace_id' AND t.engine NOT LIKE '%View'"
            ).result_rows
        }
        # Every tenant table is behind a policy; nothing outside the marts is granted.
        assert set(plan.tenant_tables) == tenant_marts
        grants = [s for s in plan.statements(None) if s.startswith("GRANT")]
        assert all(" ON `marts`." in s for s in grants)
        policies = [s for s in plan.statements(None) if s.startswith("CREATE ROW POLICY")]
        seen_rows = 0
        for table, statement in zip(plan.tenant_tables, policies, strict=True):
            assert f"ON `marts`.`{table}` " in statement
            condition = USING.search(statement).group(1)
            rows = client.query(
                f"SELECT workspace_id, countIf({condition}) AS visible, count() AS total "
                f"FROM marts.`{table}` GROUP BY workspace_id"
            ).named_results()
            for row in rows:
                assert row["workspace_id"] in (workspace, other), table
                assert row["visible"] == (row["total"] if row["workspace_id"] == workspace else 0), table
                seen_rows += row["visible"]
    assert seen_rows > 0


def test_unknown_or_malformed_workspaces_are_refused(simulated_warehouse: SimulatedWarehouse) -> None:
    with simulated_warehouse.open(), connect() as client:
        for workspace in ("initech", "acme' OR 1 = 1 --"):
            with pytest.raises(BiUserError):
                plan_bi_user(client, workspace)


def test_the_command_refuses_the_embedded_warehouse_and_prints_redacted_sql(
    simulated_warehouse: SimulatedWarehouse,
) -> None:
    with simulated_warehouse.open():
        refused = CliRunner().invoke(app, ["bi-users", "create", "--workspace", "acme"])
        printed = CliRunner().invoke(app, ["bi-users", "create", "--workspace", "acme", "--print-sql"])
    assert refused.exit_code == 2 and "server" in refused.output
    assert printed.exit_code == 0, printed.output
    assert "BY '<redacted>'" in printed.output and "CREATE ROW POLICY" in printed.output
