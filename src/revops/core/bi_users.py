"""Per-tenant BI users on a ClickHouse server: read-only, the marts only, and one workspace's rows.

Each user gets SELECT on every mart table by name (deny by default: a mart created later stays unreadable
until the user is synced again) and, on every mart with a `workspace_id` column, a row policy that lets it
see that workspace's rows only. Reference tables without the column (the seeds: chart of accounts,
decline codes) hold no tenant data and are granted whole. Marts that are views (the usage
billing-period marts) are left out: a view reads staging tables as its invoker, and staging has no row
policies. Users without row policies (the pipeline's admin, `revops_api`, the all-tenant `revops_bi`)
keep reading every row on ClickHouse's default `users_without_row_policies_can_read_rows: true`
(docs/bi.md).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, field

from clickhouse_connect.driver.client import Client

from revops.core.ddl import Dialect, _quote_string, quote_identifier
from revops.core.workspaces import WORKSPACE_ID_PATTERN

BI_DATABASE = "marts"
TENANT_COLUMN = "workspace_id"
REDACTED = "'<redacted>'"


class BiUserError(ValueError):
    pass


def tenant_condition(workspace_id: str) -> str:
    """The row policies' USING expression: exactly the rows of `workspace_id`."""
    return f"{TENANT_COLUMN} = {_quote_string(workspace_id)}"


@dataclass(frozen=True)
class BiUserPlan:
    user: str
    workspace_id: str
    tenant_tables: tuple[str, ...]
    """Marts with a workspace_id column: granted, behind a row policy."""
    shared_tables: tuple[str, ...]
    """Marts without one (reference seeds): granted whole."""
    dialect: Dialect = field(default_factory=Dialect)

    def policy_name(self, table: str) -> str:
        return quote_identifier(f"{self.user}__{table}")

    def statements(self, password: str | None) -> list[str]:
        """Every statement, in order; with `password` None the user is assumed to exist already."""
        user, on_cluster = quote_identifier(self.user), self.dialect.on_cluster
        statements = []
        if password is not None:
            statements.append(
                f"CREATE USER IF NOT EXISTS {user}{on_cluster} IDENTIFIED WITH sha256_password BY "
                f"{_quote_string(password)} DEFAULT DATABASE {quote_identifier(BI_DATABASE)} "
                "SETTINGS readonly = 2"
            )
        # Start from nothing, so a sync also drops grants on tables that no longer exist.
        statements.append(f"REVOKE{on_cluster} ALL ON *.* FROM {user}")
        for table in (*self.tenant_tables, *self.shared_tables):
            statements.append(f"GRANT{on_cluster} SELECT ON {self._table(table)} TO {user}")
        for table in self.tenant_tables:
            statements.append(
                f"CREATE ROW POLICY OR REPLACE {self.policy_name(table)}{on_cluster} ON {self._table(table)} "
                f"FOR SELECT USING {tenant_condition(self.workspace_id)} AS PERMISSIVE TO {user}"
            )
        return statements

    @staticmethod
    def _table(table: str) -> str:
        return f"{quote_identifier(BI_DATABASE)}.{quote_identifier(table)}"


def default_user_name(workspace_id: str) -> str:
    return f"revops_bi_{workspace_id}"


def plan_bi_user(
    client: Client, workspace_id: str, user: str | None = None, dialect: Dialect | None = None
) -> BiUserPlan:
    """The user, grants and policies for `workspace_id`, from the marts as they are now."""
    if not re.fullmatch(WORKSPACE_ID_PATTERN, workspace_id):
        raise BiUserError(f"{workspace_id!r} is not a workspace id (lower-case letters, digits, _)")
    user = user or default_user_name(workspace_id)
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,63}", user):
        raise BiUserError(f"{user!r} is not a user name revops creates (a letter, then letters, digits, _)")
    tables = client.query(
        "SELECT name, countIf(column = {col:String}) > 0 AS has_tenant FROM ("
        "  SELECT t.name AS name, c.name AS column FROM system.tables AS t"
        "  LEFT JOIN system.columns AS c ON c.database = t.database AND c.table = t.name"
        "  WHERE t.database = {db:String} AND NOT t.is_temporary AND t.engine NOT LIKE '%View'"
        ") GROUP BY name ORDER BY name",
        parameters={"db": BI_DATABASE, "col": TENANT_COLUMN},
    ).result_rows
    tenant = tuple(name for name, has_tenant in tables if has_tenant)
    if not tenant:
        raise BiUserError("the warehouse has no marts yet: run `revops run` first")
    known = (
        client.command(
            f"SELECT count() FROM {BI_DATABASE}.fct_mrr_daily WHERE {TENANT_COLUMN} = {{ws:String}}",
            parameters={"ws": workspace_id},
        )
        if "fct_mrr_daily" in tenant
        else 1
    )
    if not int(known):
        raise BiUserError(f"workspace {workspace_id!r} has no data in the warehouse")
    shared = tuple(name for name, has_tenant in tables if not has_tenant)
    return BiUserPlan(user, workspace_id, tenant, shared, dialect or Dialect())


def user_exists(client: Client, user: str) -> bool:
    return bool(
        int(
            client.command("SELECT count() FROM system.users WHERE name = {u:String}", parameters={"u": user})
        )
    )


def apply_bi_user(client: Client, plan: BiUserPlan) -> str | None:
    """Create the user if it is new (returning its generated password, shown once) and (re)apply its
    grants and row policies; idempotent."""
    password = None if user_exists(client, plan.user) else secrets.token_urlsafe(24)
    for statement in plan.statements(password):
        client.command(statement)
    return password


def redacted(statement: str) -> str:
    """A statement fit to print: the password replaced."""
    return re.sub(r"BY '(?:[^'\\]|\\.)*'", f"BY {REDACTED}", statement)
