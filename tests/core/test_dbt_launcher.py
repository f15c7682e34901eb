from __future__ import annotations

from revops.core.dbt import OFFLINE_COMMANDS, dbt_command, install_embedded_client, profile_env
from revops.core.warehouse import parse_warehouse_url


def test_server_target_gets_connection_from_the_url() -> None:
    env = profile_env(parse_warehouse_url("https://etl:pw@ch.internal:9440/analytics"))
    assert env["REVOPS_DBT_TARGET"] == "server"
    assert (env["REVOPS_CH_HOST"], env["REVOPS_CH_PORT"], env["REVOPS_CH_SECURE"]) == (
        "ch.internal",
        "9440",
        "true",
    )


def test_embedded_target_has_no_server_settings() -> None:
    env = profile_env(parse_warehouse_url("chdb:///tmp/wh"))
    assert env["REVOPS_DBT_TARGET"] == "embedded"
    assert not any(name.startswith("REVOPS_CH_") for name in env)


def test_embedded_swap_returns_a_chdb_client(tmp_path) -> None:
    from dbt.adapters.clickhouse.httpclient import ChHttpClient

    original = ChHttpClient._create_client
    try:
        install_embedded_client(parse_warehouse_url(f"chdb://{tmp_path / 'wh'}"))
        holder = ChHttpClient.__new__(ChHttpClient)
        holder._conn_settings = {}
        client = holder._create_client(credentials=None)
        try:
            assert client.command("SELECT 41 + 1") == 42
            assert type(client).__name__ == "ChdbClient"
        finally:
            client.close()
    finally:
        ChHttpClient._create_client = original


def test_only_commands_that_connect_take_the_warehouse() -> None:
    assert dbt_command(["parse", "--quiet"]) in OFFLINE_COMMANDS
    assert dbt_command(["--quiet", "docs", "serve", "--port", "8080"]) in OFFLINE_COMMANDS
    assert dbt_command(["build", "--select", "list"]) == "build" not in OFFLINE_COMMANDS
    assert dbt_command(["--log-format", "json", "build"]) == "build"
    assert dbt_command(["--version"]) == ""
