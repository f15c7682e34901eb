"""A warehouse configured as one node of a ClickHouse cluster, with a stand-in client: no server runs
here, so DDL is checked as the statements revops sends (and parsed by ClickHouse's own parser)."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from revops.core.settings import get_settings

CLUSTER = "revops"
SERVER_URL = "http://etl:secret@127.0.0.1:8123/default"
# What the node keeps of a CREATE TABLE revops sends: its name, engine and column names.
CREATED_TABLE = re.compile(r"CREATE TABLE IF NOT EXISTS `(\w+)`\.`(\w+)`.*?\nENGINE = (\w+)", re.DOTALL)
COLUMN = re.compile(r"^  `(\w+)` ", re.MULTILINE)


@dataclass
class RecordingClient:
    """Stands in for a clickhouse-connect client on one node: answers the catalogue queries revops makes
    before DDL from `tables` ({(database, table): (engine, columns)}) and records every statement sent."""

    tables: dict[tuple[str, str], tuple[str, Sequence[str]]] = field(default_factory=dict)
    statements: list[str] = field(default_factory=list)
    inserted: list[str] = field(default_factory=list)
    insert_settings: list[Mapping[str, Any]] = field(default_factory=list)

    def query(self, sql: str, parameters: Mapping[str, Any] | None = None) -> SimpleNamespace:
        parameters = parameters or {}
        found = self.tables.get((parameters.get("db", ""), parameters.get("tbl", "")))
        if "FROM system.tables" in sql:
            return SimpleNamespace(result_rows=[[found[0]]] if found else [])
        if "FROM system.columns" in sql:
            return SimpleNamespace(result_rows=[[name] for name in found[1]] if found else [])
        raise AssertionError(f"unexpected query: {sql}")

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> None:
        self.statements.append(sql)
        if created := CREATED_TABLE.match(sql):
            database, table, engine = created.groups()
            self.tables.setdefault((database, table), (engine, COLUMN.findall(sql)))

    def insert_arrow(self, table: str, data: Any, settings: Mapping[str, Any] | None = None) -> None:
        self.inserted.append(table)
        self.insert_settings.append(settings or {})


@contextmanager
def warehouse_settings(home: Path, url: str, cluster: str | None) -> Iterator[None]:
    """Settings for the warehouse at `url`, a node of `cluster` if one is named."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("REVOPS_HOME", str(home))
        patch.setenv("REVOPS_WAREHOUSE_URL", url)
        if cluster:
            patch.setenv("REVOPS_WAREHOUSE_CLUSTER", cluster)
        else:
            patch.delenv("REVOPS_WAREHOUSE_CLUSTER", raising=False)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


@pytest.fixture
def cluster_node(tmp_path: Path) -> Iterator[str]:
    """Settings for a server that is a node of the cluster `revops` (never dialled)."""
    with warehouse_settings(tmp_path, SERVER_URL, CLUSTER):
        yield CLUSTER
