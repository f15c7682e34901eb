"""The commands the project documents for serving the API (docs/deploy.md, the README, the image's CMD
that the compose `api` service runs) write no secret and no filter value to any log line: neither
uvicorn's own access log nor the API's."""

from __future__ import annotations

import re
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from revops.core.paths import REPO_ROOT

SECRET_KEY = "rk_live_" + "S3cr3tQueryKey" + "0" * 18
BEARER = "rk_live_" + "S3cr3tBearerKey" + "0" * 17
FILTER_VALUES = ("cus_PrivateCustomer42", "po_PrivatePayout7", "ZZQ")


def documented_commands() -> dict[str, list[str]]:
    """Each documented way to serve the API, as argv."""
    commands = {}
    for name in ("docs/deploy.md", "README.md"):
        line = next(
            line
            for line in (REPO_ROOT / name).read_text().splitlines()
            if "revops.api.main:create_app" in line
        )
        commands[name] = shlex.split(line.split("#", 1)[0])
    cmd = re.search(r"^CMD (\[.*\])$", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE)
    assert cmd, "the Dockerfile's CMD serves the API"
    commands["Dockerfile"] = __import__("json").loads(cmd.group(1))
    return commands


def on_this_machine(argv: list[str], port: int) -> list[str]:
    """The command with this venv's uvicorn, a free port and 127.0.0.1 (tests talk to nothing else)."""
    argv = [str(Path(sys.executable).with_name("uvicorn")), *argv[1:]]
    for flag, value in (("--port", str(port)), ("--host", "127.0.0.1")):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    return argv


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("source", sorted(documented_commands()))
def test_no_secret_or_filter_value_reaches_any_log_line(source: str, tmp_path: Path) -> None:
    port = free_port()
    argv = on_this_machine(documented_commands()[source], port)
    env = {
        "PATH": "/usr/bin:/bin",
        "REVOPS_HOME": str(tmp_path),
        "REVOPS_WAREHOUSE_URL": f"chdb://{tmp_path}/wh",
    }
    log = tmp_path / "server.log"
    with log.open("w") as output:
        server = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env, cwd=REPO_ROOT)
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            else:
                pytest.fail(f"{source}: the server did not start:\n{log.read_text()}")
            customer, payout, currency = FILTER_VALUES
            requests = [
                f"/v1/recovery/episodes?api_key={SECRET_KEY}&customer_id={customer}&currency={currency}",
                f"/v1/reconciliation/payouts/?payout_id={payout}",  # a redirect
                f"/v1/ledger/entries?customer_id={customer}",  # an unknown parameter
            ]
            statuses = [
                httpx.get(base + url, headers={"Authorization": f"Bearer {BEARER}"}, timeout=30).status_code
                for url in requests
            ]
        finally:
            server.terminate()
            server.wait(timeout=30)
    text = log.read_text()
    assert statuses == [401, 307, 401], text
    for secret in (SECRET_KEY, BEARER, *FILTER_VALUES):
        assert secret not in text, f"{source} logged {secret!r}:\n{text}"
    # The lines are there, with the parameters' names: what is absent was removed, not never written.
    assert text.count("/v1/recovery/episodes") >= 1 and "customer_id" in text, text
    if "--no-access-log" not in argv:
        assert "api_key=…" in text, "uvicorn's access line keeps the name, not the value"
