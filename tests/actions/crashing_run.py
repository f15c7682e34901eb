"""A dunning run in its own process that kills itself (SIGKILL) at a chosen point of a chosen item.

`python -m tests.actions.crashing_run <spec.json>`; the spec names the warehouse home, the simulator's
Stripe base URL and keys, the SMTP server, the queue items, and where to die:
`before_effect` (the pending row is written, the side effect not yet made), `after_effect` (the
side effect made, its outcome not yet logged), `after_outcome` (the outcome logged) or `never`.
With `ready_path` and `go_path` the process says it is ready (imports done, adapters built) and
waits for the go file before running, so several start at once; `report_path` receives its report.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import stripe

from revops.actions import executor, log
from revops.actions.adapters import (
    Adapters,
    LinkSigner,
    SmtpAdapter,
    SmtpConfig,
    StripeAdapter,
    WebhookAdapter,
)
from revops.actions.log import Attempt
from revops.actions.policy import QueueItem
from tests.actions.conftest import LINK_SECRET, policy_for


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    items = [Attempt("", "", "pending", "", "", detail).pending_item() for detail in spec["items"]]
    crash_key, point = spec["crash_key"], spec["point"]
    adapters = Adapters(
        stripe=StripeAdapter(
            {
                ws: stripe.StripeClient(key, base_addresses={"api": spec["stripe_base_url"]})
                for ws, key in spec["keys"].items()
            }
        ),
        email=SmtpAdapter(
            SmtpConfig(spec["smtp_host"], spec["smtp_port"], "billing@acme.test"),
            LinkSigner(LINK_SECRET, "https://billing.acme.test/card", timedelta(hours=72)),
        ),
        webhook=WebhookAdapter(None, None),
    )
    original_append = log.append

    def append(item: QueueItem, **fields: Any) -> None:
        original_append(item, **fields)
        if item.idempotency_key == crash_key and fields["status"] != "pending" and point == "after_outcome":
            _die()

    log.append = append  # type: ignore[assignment]
    performers = {name: getattr(adapters, name).perform for name in ("stripe", "email", "webhook")}

    def wrap(name: str) -> Any:
        def perform(item: QueueItem, now: datetime) -> Any:
            if item.idempotency_key == crash_key and point == "before_effect":
                _die()
            outcome = performers[name](item, now)
            if item.idempotency_key == crash_key and point == "after_effect":
                _die()
            return outcome

        return perform

    for name in performers:
        object.__setattr__(getattr(adapters, name), "perform", wrap(name))
    now = datetime.fromisoformat(spec["now"])
    if "go_path" in spec:
        Path(spec["ready_path"]).touch()
        while not Path(spec["go_path"]).exists():
            time.sleep(0.01)
    report = executor.execute_queue(
        items, {"acme": policy_for("acme")}, adapters, now, spec.get("run_id", "crashing-run")
    )
    if "report_path" in spec:
        results = [(item.idempotency_key, status, reason) for item, status, reason in report.results]
        Path(spec["report_path"]).write_text(
            json.dumps({"results": results, "skipped_workspaces": report.skipped_workspaces})
        )


if __name__ == "__main__":
    main(sys.argv[1])
