"""The simulator reacts to actions: payment retries and write-offs through Stripe's API (with Stripe's
idempotency keys), dunning email through its SMTP server; the world stays a pure function of
(seed, as_of, scale, actions) and survives a restart on its persisted action log."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import stripe

from revops_simulator import SimulatorServer, World
from revops_simulator.actions import Action, ActionLog
from revops_simulator.business.billing import CustomerJourney
from revops_simulator.mailbox import INVOICE_HEADER, TEMPLATE_HEADER, Mailbox
from revops_simulator.recovery import EpisodeTruth

SEED, SCALE = 7, 0.25
CLOCK = datetime(2026, 11, 1, 14, 0, tzinfo=UTC)


@pytest.fixture
def log_path(tmp_path: Path) -> Path:
    return tmp_path / "actions.jsonl"


@pytest.fixture
def world(log_path: Path) -> World:
    return World(SEED, CLOCK, SCALE, ActionLog(log_path))


@pytest.fixture
def server(world: World) -> Iterator[SimulatorServer]:
    with SimulatorServer(world) as running:
        yield running


def _client(world: World, server: SimulatorServer) -> stripe.StripeClient:
    return stripe.StripeClient(
        world.workspaces[0].stripe_api_key,
        base_addresses={"api": server.stripe_base_url},
        max_network_retries=0,
    )


def _open_episodes(world: World) -> list[EpisodeTruth]:
    episodes = [episode for episode in world.recovery_truth("acme") if episode.outcome == "open"]
    assert episodes
    return episodes


def test_a_payment_retry_is_a_new_attempt_and_changes_nothing_before_it(
    world: World, server: SimulatorServer
) -> None:
    episode = _open_episodes(world)[0]
    before = world.ground_truth("acme")
    try:
        invoice = _client(world, server).v1.invoices.pay(
            episode.invoice_id, options={"idempotency_key": "k1"}
        )
        assert invoice.status == "paid"
    except stripe.CardError as error:
        assert error.http_status == 402 and error.error.decline_code
    after = world.ground_truth("acme")
    retried = next(e for e in world.recovery_truth("acme") if e.invoice_id == episode.invoice_id)
    assert retried.attempt_count == episode.attempt_count + 1
    # Nobody else's history changed: the retry touches this customer's objects only.
    for resource in ("invoices", "charges", "subscriptions", "payment_intents"):
        others = [o for o in before.objects[resource] if o["customer"] != episode.customer_id]
        assert others == [o for o in after.objects[resource] if o["customer"] != episode.customer_id], (
            resource
        )


def test_idempotency_keys_replay_the_first_response_and_refuse_other_parameters(
    world: World, server: SimulatorServer, log_path: Path
) -> None:
    episode = _open_episodes(world)[0]
    client = _client(world, server)

    def pay(**params: object) -> tuple[int, dict, str | None]:
        try:
            invoice = client.v1.invoices.pay(
                episode.invoice_id, params=params, options={"idempotency_key": "same"}
            )  # type: ignore[arg-type]
            return 200, invoice.to_dict(), invoice.last_response.headers.get("Idempotent-Replayed")
        except stripe.CardError as error:
            return 402, dict(error.json_body or {}), (error.headers or {}).get("Idempotent-Replayed")

    first = pay()
    replay = pay()
    assert replay[:2] == first[:2] and replay[2] == "true" and first[2] is None
    with pytest.raises(stripe.IdempotencyError) as refused:
        pay(off_session="true")
    assert refused.value.http_status == 400
    assert len([a for a in world.actions.actions() if a.kind == "invoice_pay"]) == 1

    # A simulator restarted on the same log rebuilds the same world and replays the same answer.
    restarted = World(SEED, CLOCK, SCALE, ActionLog(log_path))
    assert restarted.recovery_truth("acme") == world.recovery_truth("acme")
    with SimulatorServer(restarted) as second:
        client = _client(restarted, second)
        assert pay()[:2] == first[:2]
    assert len([a for a in restarted.actions.actions() if a.kind == "invoice_pay"]) == 1


def test_invoice_actions_reject_bad_requests_naming_the_problem(
    world: World, server: SimulatorServer
) -> None:
    client = _client(world, server)
    paid = next(e for e in world.recovery_truth("acme") if e.outcome == "recovered")
    with pytest.raises(stripe.InvalidRequestError, match="already paid"):
        client.v1.invoices.pay(paid.invoice_id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.invoices.pay("in_doesnotexist")
    assert missing.value.http_status == 404 and missing.value.param == "id"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.invoices.pay(_open_episodes(world)[0].invoice_id, params={"colour": "red"})  # type: ignore[typeddict-unknown-key]
    assert unknown.value.param == "colour"
    assert world.actions.actions() == []


def test_marking_uncollectible_loses_the_invoice_and_ends_the_subscription(
    world: World, server: SimulatorServer
) -> None:
    episode = _open_episodes(world)[0]
    invoice = _client(world, server).v1.invoices.mark_uncollectible(episode.invoice_id)
    assert invoice.status == "uncollectible"
    lost = next(e for e in world.recovery_truth("acme") if e.invoice_id == episode.invoice_id)
    assert lost.outcome == "lost"
    subscription = next(
        s for s in world.ground_truth("acme").objects["subscriptions"] if s["id"] == episode.subscription_id
    )
    assert subscription["status"] == "canceled"


def test_a_hard_decline_retried_on_the_same_card_fails_again(world: World) -> None:
    journey = CustomerJourney.__new__(CustomerJourney)
    journey.seed, journey.tenant, journey.risky = SEED, world._tenants["acme"], False
    from revops_simulator.business.declines import HARD

    hard = next(iter(HARD))
    invoice = world.find_invoice(_open_episodes(world)[0].invoice_id)
    assert invoice is not None
    assert journey._merchant_retry(invoice[1], hard, int(CLOCK.timestamp()), 0, new_card=False) is hard


def _send(mailbox: Mailbox, to: str, invoice_id: str, template: str) -> None:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "billing@acme.test", to, "Your payment failed"
    message[INVOICE_HEADER], message[TEMPLATE_HEADER] = invoice_id, template
    message.set_content("Please update your card.")
    with smtplib.SMTP(mailbox.host, mailbox.port, timeout=10) as smtp:
        smtp.send_message(message)


def test_delivered_email_is_an_action_the_customer_may_answer_deterministically(
    world: World, log_path: Path
) -> None:
    episodes = _open_episodes(world)
    with Mailbox(world) as mailbox:
        for episode in episodes:
            found = world.find_invoice(episode.invoice_id)
            assert found is not None
            _send(mailbox, found[1].customer.email, episode.invoice_id, "card_update")
        _send(mailbox, "stranger@elsewhere.test", episodes[0].invoice_id, "card_update")
    assert len(mailbox.messages) == len(episodes) + 1
    delivered = [a for a in world.actions.actions() if a.kind == "email_delivered"]
    # The stranger's copy reached nobody the invoice belongs to: no action.
    assert [(a.invoice_id, a.detail) for a in delivered] == [(e.invoice_id, "card_update") for e in episodes]
    # Reactions come later (up to 36 hours): the advanced world equals one rebuilt from the persisted
    # log, and differs from the world that never got the emails only in how these invoices end.
    later = datetime(2026, 11, 6, 14, tzinfo=UTC)
    world.advance_to(later)
    rebuilt = World(SEED, later, SCALE, ActionLog(log_path))
    assert rebuilt.recovery_truth("acme") == world.recovery_truth("acme")
    untouched = {e.invoice_id: e for e in World(SEED, later, SCALE).recovery_truth("acme")}
    emailed = {e.invoice_id for e in episodes}
    for episode in world.recovery_truth("acme"):
        if episode.invoice_id not in emailed:
            assert episode == untouched[episode.invoice_id]


def test_actions_after_the_clock_or_for_unknown_workspaces_are_refused(world: World) -> None:
    episode = _open_episodes(world)[0]
    with pytest.raises(ValueError, match="after the clock"):
        world.record(Action("invoice_pay", "acme", episode.invoice_id, int(CLOCK.timestamp()) + 60))
    with pytest.raises(ValueError, match="unknown workspace"):
        world.record(Action("invoice_pay", "initech", episode.invoice_id, int(CLOCK.timestamp())))
