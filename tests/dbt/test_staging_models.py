"""The Stripe staging layer, built by `revops-dbt build` on an embedded warehouse from hand-made raw rows.

One module-scoped build serves every assertion (dbt on chDB takes a while to start); the last tests
build again and plant an orphan, without changing what the earlier ones saw.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from revops.core.warehouse import connect
from revops.pipelines.runner import ensure_raw_tables
from revops.pipelines.sources import STRIPE
from tests.dbt.stripe_raw_fixture import (
    CREATED,
    CREATED_AT,
    SECOND_SYNC,
    WS_A,
    WS_B,
    load_raw_fixture,
)
from tests.support import DbtRun, isolated_warehouse, run_dbt

# Staging model -> (raw table it reads, its key column). Items are keyed like any other object.
MODELS: dict[str, tuple[str, str]] = {
    "stg_stripe__customers": ("stripe_customers", "customer_id"),
    "stg_stripe__products": ("stripe_products", "product_id"),
    "stg_stripe__prices": ("stripe_prices", "price_id"),
    "stg_stripe__subscriptions": ("stripe_subscriptions", "subscription_id"),
    "stg_stripe__subscription_items": ("stripe_subscription_items", "subscription_item_id"),
    "stg_stripe__invoices": ("stripe_invoices", "invoice_id"),
    "stg_stripe__invoice_lines": ("stripe_invoice_line_items", "invoice_line_id"),
    "stg_stripe__invoice_payments": ("stripe_invoice_payments", "invoice_payment_id"),
    "stg_stripe__charges": ("stripe_charges", "charge_id"),
    "stg_stripe__payment_intents": ("stripe_payment_intents", "payment_intent_id"),
    "stg_stripe__refunds": ("stripe_refunds", "refund_id"),
    "stg_stripe__disputes": ("stripe_disputes", "dispute_id"),
    "stg_stripe__payouts": ("stripe_payouts", "payout_id"),
    "stg_stripe__balance_transactions": ("stripe_balance_transactions", "balance_transaction_id"),
    "stg_stripe__tax_rates": ("stripe_tax_rates", "tax_rate_id"),
    "stg_stripe__coupons": ("stripe_coupons", "coupon_id"),
    "stg_stripe__promotion_codes": ("stripe_promotion_codes", "promotion_code_id"),
    "stg_stripe__events": ("stripe_events", "event_id"),
    "stg_stripe__payment_methods": ("stripe_payment_methods", "payment_method_id"),
}

# Integer minor-unit money columns per model (each has a `<column>_major` companion unless noted).
MONEY_COLUMNS: dict[str, list[str]] = {
    "stg_stripe__customers": ["balance"],
    "stg_stripe__prices": ["unit_amount"],
    "stg_stripe__subscription_items": ["unit_amount"],
    "stg_stripe__invoices": ["amount_due", "amount_paid", "amount_remaining", "subtotal", "total"],
    "stg_stripe__invoice_lines": ["amount"],
    "stg_stripe__invoice_payments": ["amount_requested", "amount_paid"],
    "stg_stripe__charges": ["amount", "amount_captured", "amount_refunded"],
    "stg_stripe__payment_intents": ["amount", "amount_received"],
    "stg_stripe__refunds": ["amount"],
    "stg_stripe__disputes": ["amount"],
    "stg_stripe__payouts": ["amount"],
    "stg_stripe__balance_transactions": ["amount", "fee", "net"],
    "stg_stripe__coupons": ["amount_off"],
}

STAGING = "staging"


@dataclass
class Warehouse:
    home: Path
    _open: ExitStack | None = None
    _client: Client | None = None

    @property
    def client(self) -> Client:
        """One client reused across queries (opening chDB costs ~0.1 s); released before dbt runs."""
        if self._open is None or self._client is None:
            self._open = ExitStack()
            self._client = self._open.enter_context(connect())
        return self._client

    def release(self) -> None:
        """Close the client: chDB opens a data path in one process at a time."""
        if self._open is not None:
            self._open.close()
            self._open = self._client = None

    def dbt(self, *args: str) -> DbtRun:
        self.release()
        return run_dbt(self.home, *args)

    def query(self, sql: str, **parameters: Any) -> list[dict[str, Any]]:
        return list(self.client.query(sql, parameters=parameters).named_results())

    def command(self, sql: str) -> None:
        self.client.command(sql)

    def staging_snapshot(self) -> dict[str, tuple[list[tuple[str, str]], list[tuple]]]:
        """Columns with types and every row of every staging model, in key order."""
        snapshot = {}
        for model, (_, key) in MODELS.items():
            columns = self.client.query(
                "select name, type from system.columns where database = {db:String} and table = {t:String} "
                "order by position",
                parameters={"db": STAGING, "t": model},
            ).result_rows
            rows = self.client.query(
                f"select * from {STAGING}.{model} order by workspace_id, {key}"
            ).result_rows
            snapshot[model] = ([tuple(column) for column in columns], [tuple(row) for row in rows])
        return snapshot


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    home = tmp_path_factory.mktemp("revops_home")
    with isolated_warehouse(home):
        warehouse = Warehouse(home=home)
        try:
            load_raw_fixture(warehouse.client)
            # The other sources' raw tables exist, empty, as they do before dbt in every run.
            ensure_raw_tables()
            yield warehouse
        finally:
            warehouse.release()


@pytest.fixture(scope="module")
def first_build(warehouse: Warehouse) -> DbtRun:
    run = warehouse.dbt("build")
    assert run.returncode == 0, run.output
    return run


@pytest.fixture(scope="module")
def built(warehouse: Warehouse, first_build: DbtRun) -> Warehouse:
    return warehouse


@pytest.fixture(scope="module")
def first_snapshot(built: Warehouse) -> dict[str, Any]:
    return built.staging_snapshot()


def _one(warehouse: Warehouse, model: str, workspace_id: str, key_value: str) -> dict[str, Any]:
    key = MODELS[model][1]
    rows = warehouse.query(
        f"select * from {STAGING}.{model} where workspace_id = {{ws:String}} and {key} = {{id:String}}",
        ws=workspace_id,
        id=key_value,
    )
    assert len(rows) == 1, f"{model}: expected one row for ({workspace_id}, {key_value}), got {rows}"
    return rows[0]


# ---------------------------------------------------------------------------------------------- build


def test_build_runs_every_model_unit_test_and_data_test_cleanly(first_build: DbtRun) -> None:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for result in first_build.results:
        by_type.setdefault(result["unique_id"].split(".")[0], []).append(result)
    # Every Stripe model is built; the other sources' models build too, empty.
    assert {r["unique_id"].split(".")[-1] for r in by_type["model"]} >= set(MODELS)
    assert len(by_type["unit_test"]) >= 3
    assert len(by_type["test"]) >= 100
    # Not only no errors: the warn-severity tests (relationships, enums) pass on consistent data too,
    # but for the one warning this data must raise: a subscription in a currency no charge has settled
    # in yet has no exchange rate for its MRR.
    not_clean = [
        (r["unique_id"].split(".")[2], r["status"])
        for r in first_build.results
        # Exposures (models/_exposures.yml) are listed as no-op: dbt builds nothing for them.
        if r["status"] not in ("success", "pass") and not r["unique_id"].startswith("exposure.")
    ]
    assert not_clean == [("not_null_fct_mrr_daily_fx_rate", "warn")]


# ------------------------------------------------------------------------------- grain and versions


@pytest.mark.parametrize("model", MODELS)
def test_one_row_per_workspace_and_id(built: Warehouse, model: str) -> None:
    key = MODELS[model][1]
    [row] = built.query(
        f"select count() as n, uniqExact((workspace_id, {key})) as keys, "
        f"uniqExact(workspace_id) as workspaces from {STAGING}.{model}"
    )
    assert row["n"] > 0
    assert row["n"] == row["keys"]
    # Every model is exercised for both tenants, except the one object only ws_alpha has (a dispute).
    assert row["workspaces"] == (1 if model == "stg_stripe__disputes" else 2)


@pytest.mark.parametrize("model", MODELS)
def test_every_row_is_its_workspaces_latest_fetch(built: Warehouse, model: str) -> None:
    """Each staging row matches the newest raw version of the same id in the same workspace."""
    raw_table, key = MODELS[model]
    mismatched = built.query(
        f"""
        select s.workspace_id, s.{key}, s._revops_synced_at, r.latest
        from {STAGING}.{model} as s
        left join (
            select workspace_id, id, max(_revops_synced_at) as latest
            from raw.{raw_table}
            group by workspace_id, id
        ) as r on s.workspace_id = r.workspace_id and s.{key} = r.id
        where s._revops_synced_at != r.latest
        settings join_use_nulls = 1
        """
    )
    assert mismatched == []


def test_latest_version_wins_and_same_instant_versions_resolve_by_load(built: Warehouse) -> None:
    customer = _one(built, "stg_stripe__customers", WS_A, "cus_1")
    assert customer["email"] == "new@alpha.test"
    assert customer["balance"] == -500
    # Two versions fetched at the same instant: the later load (a retried file) wins.
    assert customer["description"] == "reloaded"
    assert customer["_revops_synced_at"] == SECOND_SYNC.replace(tzinfo=None)

    assert _one(built, "stg_stripe__subscriptions", WS_A, "sub_1")["status"] == "active"
    charge = _one(built, "stg_stripe__charges", WS_A, "ch_1")
    assert (charge["status"], charge["amount_refunded"], charge["is_disputed"]) == ("succeeded", 500, True)
    payout = _one(built, "stg_stripe__payouts", WS_A, "po_1")
    assert (payout["status"], payout["trace_id"]) == ("paid", "TRACE123")
    assert payout["trace_id_status"] == "supported"
    assert _one(built, "stg_stripe__balance_transactions", WS_A, "txn_1")["status"] == "available"
    assert _one(built, "stg_stripe__events", WS_A, "evt_1")["object_id"] == "cus_1"


def test_items_removed_from_a_parent_disappear(built: Warehouse) -> None:
    items = built.query(
        f"select subscription_item_id, quantity, _revops_synced_at "
        f"from {STAGING}.stg_stripe__subscription_items "
        "where workspace_id = {ws:String} and subscription_id = 'sub_1'",
        ws=WS_A,
    )
    assert [(i["subscription_item_id"], i["quantity"]) for i in items] == [("si_1", 3)]
    assert items[0]["_revops_synced_at"] == SECOND_SYNC.replace(tzinfo=None)

    lines = built.query(
        f"select invoice_line_id from {STAGING}.stg_stripe__invoice_lines "
        "where workspace_id = {ws:String} and invoice_id = 'in_1'",
        ws=WS_A,
    )
    assert [line["invoice_line_id"] for line in lines] == ["il_1"]

    # Parents fetched once keep their items.
    assert _one(built, "stg_stripe__subscription_items", WS_A, "si_3")["subscription_id"] == "sub_2"
    assert _one(built, "stg_stripe__invoice_lines", WS_A, "il_3")["invoice_id"] == "in_2"


# ------------------------------------------------------------------------------------------- tenants


def test_workspaces_never_mix(built: Warehouse) -> None:
    """The same Stripe ids exist in both workspaces; each row keeps its own workspace's values."""
    alpha, beta = (_one(built, "stg_stripe__customers", ws, "cus_1") for ws in (WS_A, WS_B))
    assert (alpha["email"], alpha["currency"]) == ("new@alpha.test", "EUR")
    assert (beta["email"], beta["currency"]) == ("one@beta.test", "USD")
    assert beta["balance_major"] == Decimal("2.500")

    beta_item = _one(built, "stg_stripe__subscription_items", WS_B, "si_1")
    assert (beta_item["price_id"], beta_item["quantity"], beta_item["currency"]) == ("price_usd", 2, "USD")
    # In ws_beta the embedded price's product is an expanded object; its id is read all the same.
    assert beta_item["product_id"] == "prod_1"
    # ws_beta's sub_1 was fetched once, with si_1 only: ws_alpha's si_2 must not leak into it.
    beta_items = built.query(
        f"select subscription_item_id from {STAGING}.stg_stripe__subscription_items "
        "where workspace_id = {ws:String}",
        ws=WS_B,
    )
    assert [i["subscription_item_id"] for i in beta_items] == ["si_1"]

    beta_line = _one(built, "stg_stripe__invoice_lines", WS_B, "il_1")
    assert (beta_line["amount"], beta_line["currency"], beta_line["quantity"]) == (2000, "USD", 2)
    assert _one(built, "stg_stripe__balance_transactions", WS_B, "txn_1")["stripe_fee"] == 88
    assert _one(built, "stg_stripe__subscriptions", WS_B, "sub_1")["status"] == "past_due"

    # No staging row exists for an id its workspace never had.
    for model, (raw_table, key) in MODELS.items():
        strangers = built.query(
            f"select workspace_id, {key} from {STAGING}.{model} "
            f"where (workspace_id, {key}) not in (select workspace_id, id from raw.{raw_table})"
        )
        assert strangers == [], model


# ------------------------------------------------------------------------------ types and values


def _columns(warehouse: Warehouse) -> dict[str, dict[str, str]]:
    rows = warehouse.query(
        "select table, name, type from system.columns where database = {db:String} order by table, position",
        db=STAGING,
    )
    columns: dict[str, dict[str, str]] = {}
    for row in rows:
        columns.setdefault(row["table"], {})[row["name"]] = row["type"]
    return columns


def _base(type_name: str) -> str:
    match = re.fullmatch(r"Nullable\((.*)\)", type_name)
    return match.group(1) if match else type_name


def test_column_types_follow_the_conventions(built: Warehouse) -> None:
    columns = _columns(built)
    assert set(MODELS) <= set(columns)
    for model in MODELS:
        types = columns[model]
        key = MODELS[model][1]
        assert list(types)[:2] == ["workspace_id", key], model
        assert types["workspace_id"] == "String" and types[key] == "String", model
        assert types["_revops_synced_at"] == "DateTime64(6, 'UTC')", model
        for name, type_name in types.items():
            if name.endswith("_at") and name != "_revops_synced_at":
                assert _base(type_name) == "DateTime64(3, 'UTC')", (model, name, type_name)
            if name.startswith("is_"):
                assert _base(type_name) == "Bool", (model, name, type_name)
            if name == "currency":
                assert _base(type_name) == "String", (model, name, type_name)
            if name.endswith("_major"):
                assert _base(type_name) == "Decimal(38, 3)", (model, name, type_name)
        for money in MONEY_COLUMNS.get(model, []):
            assert _base(types[money]) == "Int64", (model, money)
            assert f"{money}_major" in types, (model, money)
    assert _base(columns["stg_stripe__balance_transactions"]["exchange_rate"]) == "Decimal(38, 9)"
    for fee in ("stripe_fee", "application_fee", "tax_fee"):
        assert _base(columns["stg_stripe__balance_transactions"][fee]) == "Int64"


def test_currencies_are_upper_case_iso_codes(built: Warehouse) -> None:
    for model, types in _columns(built).items():
        if model in MODELS and "currency" in types:
            codes = {r["currency"] for r in built.query(f"select distinct currency from {STAGING}.{model}")}
            assert all(code is None or re.fullmatch(r"[A-Z]{3}", code) for code in codes), (model, codes)
    currencies = built.query(f"select distinct currency from {STAGING}.stg_stripe__prices order by currency")
    assert [r["currency"] for r in currencies] == ["EUR", "JPY", "KWD", "USD"]


def test_major_units_use_the_currency_exponent(built: Warehouse) -> None:
    eur = _one(built, "stg_stripe__prices", WS_A, "price_eur")
    jpy = _one(built, "stg_stripe__prices", WS_A, "price_jpy")
    kwd = _one(built, "stg_stripe__prices", WS_A, "price_kwd_once")
    assert (eur["unit_amount"], eur["unit_amount_major"]) == (1999, Decimal("19.99"))
    assert (jpy["unit_amount"], jpy["unit_amount_major"]) == (12000, Decimal("12000"))
    assert (kwd["unit_amount"], kwd["unit_amount_major"]) == (12345, Decimal("12.345"))
    assert eur["unit_amount_decimal"] == Decimal("1999")
    seat = _one(built, "stg_stripe__prices", WS_A, "price_eur_seat")
    assert seat["unit_amount_decimal"] == Decimal("499.5")

    charge = _one(built, "stg_stripe__charges", WS_A, "ch_2")
    assert (charge["currency"], charge["amount"], charge["amount_major"]) == ("JPY", 12000, Decimal("12000"))
    refund = _one(built, "stg_stripe__balance_transactions", WS_A, "txn_2")
    assert (refund["amount"], refund["amount_major"]) == (-500, Decimal("-5"))


def test_timestamps_are_utc_datetimes(built: Warehouse) -> None:
    naive = CREATED_AT.replace(tzinfo=None)
    assert _one(built, "stg_stripe__customers", WS_A, "cus_1")["created_at"] == naive
    invoice = _one(built, "stg_stripe__invoices", WS_A, "in_1")
    assert invoice["paid_at"] == datetime(2024, 6, 11, 7, 13, 20)
    assert invoice["finalized_at"] == datetime(2024, 6, 11, 6, 13, 20)
    assert invoice["voided_at"] is None
    # The same instant as Stripe's epoch seconds, in a column typed UTC (not the server's zone).
    rows = built.query(
        f"select toUnixTimestamp(created_at) as epoch, timezoneOf(created_at) as tz "
        f"from {STAGING}.stg_stripe__charges where charge_id = 'ch_1'"
    )
    assert rows == [{"epoch": CREATED, "tz": "UTC"}] * 2


def test_json_fields_are_extracted_and_bad_values_read_as_null(built: Warehouse) -> None:
    invoice = _one(built, "stg_stripe__invoices", WS_A, "in_1")
    assert (invoice["subscription_id"], invoice["parent_type"], invoice["total_tax"]) == (
        "sub_1",
        "subscription_details",
        319,
    )
    # Pre-2025 API shape: the subscription comes from the top-level field.
    assert _one(built, "stg_stripe__invoices", WS_A, "in_2")["subscription_id"] == "sub_2"
    # Malformed status_transitions JSON: no transition times, and the row is still there.
    broken = _one(built, "stg_stripe__invoices", WS_B, "in_1")
    transitions = ("finalized_at", "paid_at", "voided_at", "marked_uncollectible_at")
    assert [broken[c] for c in transitions] == [None] * 4

    line = _one(built, "stg_stripe__invoice_lines", WS_A, "il_1")
    assert (line["price_id"], line["subscription_item_id"]) == ("price_eur", "si_1")
    assert line["is_proration"] is False
    assert (line["discount_amount"], line["tax_amount"]) == (100, 319)
    assert line["period_end_at"] == datetime(2024, 7, 1)
    # Tax added on top (ws_alpha) and tax inside a VAT-inclusive amount (ws_beta) are told apart.
    assert (invoice["exclusive_tax"], invoice["inclusive_tax"], invoice["total_discount_amount"]) == (
        319,
        0,
        None,
    )
    vat = _one(built, "stg_stripe__invoices", WS_B, "in_1")
    assert (vat["total_tax"], vat["exclusive_tax"], vat["inclusive_tax"]) == (333, 0, 333)
    assert (vat["total_excluding_tax"], vat["total_discount_amount"]) == (1667, 0)
    assert _one(built, "stg_stripe__invoice_lines", WS_B, "il_1")["inclusive_tax_amount"] == 333
    assert _one(built, "stg_stripe__invoice_lines", WS_A, "il_1")["inclusive_tax_amount"] == 0
    one_off = _one(built, "stg_stripe__invoice_lines", WS_A, "il_3")
    assert (one_off["invoice_item_id"], one_off["parent_type"], one_off["subscription_id"]) == (
        "ii_1",
        "invoice_item_details",
        "sub_2",
    )

    price = _one(built, "stg_stripe__prices", WS_A, "price_jpy")
    recurring = ("recurring_interval", "recurring_interval_count", "recurring_usage_type")
    assert [price[c] for c in recurring] == ["year", 1, "licensed"]
    assert _one(built, "stg_stripe__prices", WS_A, "price_kwd_once")["recurring_interval"] is None

    declined = _one(built, "stg_stripe__charges", WS_A, "ch_2")
    assert (declined["outcome_type"], declined["decline_code"], declined["network_decline_code"]) == (
        "issuer_declined",
        "insufficient_funds",
        "51",
    )
    assert (declined["outcome_network_status"], declined["outcome_advice_code"]) == (
        "declined_by_network",
        "try_again_later",
    )
    blocked = _one(built, "stg_stripe__charges", WS_B, "ch_1")
    assert (blocked["outcome_reason"], blocked["decline_code"]) == ("highest_risk_level", None)

    txn = _one(built, "stg_stripe__balance_transactions", WS_A, "txn_1")
    assert (txn["fee"], txn["stripe_fee"], txn["application_fee"], txn["tax_fee"]) == (88, 59, 29, 0)
    assert txn["exchange_rate"] == Decimal("1.085432101")

    payment = _one(built, "stg_stripe__invoice_payments", WS_A, "inpay_1")
    assert (payment["payment_intent_id"], payment["payment_type"], payment["amount_paid"]) == (
        "pi_1",
        "payment_intent",
        1999,
    )
    event = _one(built, "stg_stripe__events", WS_B, "evt_1")
    assert (event["object_type"], event["object_id"], event["request_id"]) == ("invoice", "in_1", None)

    # A deleted customer's stub keeps its row, flagged; `deleted` absent elsewhere means false.
    deleted = _one(built, "stg_stripe__customers", WS_B, "cus_3")
    assert (deleted["is_deleted"], deleted["email"], deleted["created_at"]) == (True, None, None)
    assert _one(built, "stg_stripe__customers", WS_A, "cus_2")["is_deleted"] is False
    # A blank currency is unknown: the minor-unit amount stays, its major-unit size is not guessed.
    blank = _one(built, "stg_stripe__customers", WS_B, "cus_4")
    assert (blank["currency"], blank["balance"], blank["balance_major"]) == (None, 700, None)


def test_every_model_and_column_is_documented_in_order(built: Warehouse) -> None:
    manifest = json.loads((built.home / "dbt_target" / "manifest.json").read_text())
    columns = _columns(built)
    for model in MODELS:
        node = manifest["nodes"][f"model.revops.{model}"]
        assert node["description"].strip(), model
        assert node["schema"] == STAGING and node["config"]["materialized"] == "table", model
        assert list(node["columns"]) == list(columns[model]), model
        undocumented = [name for name, column in node["columns"].items() if not column["description"].strip()]
        assert undocumented == [], model
    sources = [s for s in manifest["sources"].values() if s["source_name"] == "stripe"]
    # One source per raw table the Stripe source lands (its rejections go to the shared quarantine).
    assert sorted(s["identifier"] for s in sources) == sorted(STRIPE.tables)
    assert all(s["schema"] == "raw" and s["identifier"] == f"stripe_{s['name']}" for s in sources)
    assert all(s["description"].strip() for s in sources)


# ------------------------------------------------------------------------------ rebuild and tests


def test_a_second_build_changes_nothing(built: Warehouse, first_snapshot: dict[str, Any]) -> None:
    # What the snapshot holds, rebuilt with its tests; the marts are another module's subject.
    second = built.dbt("build", "--select", "staging")
    assert second.returncode == 0, second.output
    assert built.staging_snapshot() == first_snapshot


def test_relationship_test_catches_a_reference_into_another_workspace(
    built: Warehouse, first_build: DbtRun
) -> None:
    """A refund in ws_beta pointing at a charge only ws_alpha has is an orphan, though the id exists."""
    test_id = "test.revops.relationships_in_workspace_stg_stripe__refunds_charge_id"
    [result] = [r for r in first_build.results if r["unique_id"].startswith(test_id)]
    compiled_test = result["compiled_code"]
    assert built.query(compiled_test) == []
    built.command(
        f"insert into {STAGING}.stg_stripe__refunds (workspace_id, refund_id, charge_id, _revops_synced_at) "
        f"values ('{WS_B}', 're_orphan', 'ch_2', now64(6))"
    )
    try:
        assert built.query(compiled_test) == [{"workspace_id": WS_B, "ref_id": "ch_2"}]
    finally:
        built.command(
            f"alter table {STAGING}.stg_stripe__refunds delete where refund_id = 're_orphan' "
            "settings mutations_sync = 2"
        )


def test_tax_rates_coupons_and_promotion_codes(built: Warehouse) -> None:
    ny, vat = (
        _one(built, "stg_stripe__tax_rates", WS_A, "txr_1"),
        _one(built, "stg_stripe__tax_rates", WS_B, "txr_1"),
    )
    assert (ny["percentage"], ny["is_inclusive"], ny["state"], ny["tax_type"]) == (
        Decimal("8.875"),
        False,
        "NY",
        "sales_tax",
    )
    assert (vat["percentage"], vat["is_inclusive"], vat["is_active"]) == (Decimal("20"), True, False)
    percent = _one(built, "stg_stripe__coupons", WS_A, "LAUNCH20")
    assert (percent["percent_off"], percent["amount_off"], percent["currency"]) == (
        Decimal("25.5"),
        None,
        None,
    )
    assert (percent["duration"], percent["duration_in_months"], percent["is_deleted"]) == (
        "repeating",
        3,
        False,
    )
    assert percent["redeem_by_at"] is not None
    amount = _one(built, "stg_stripe__coupons", WS_B, "LAUNCH20")
    assert (amount["amount_off"], amount["amount_off_major"], amount["currency"]) == (
        1500,
        Decimal("1.5"),
        "KWD",
    )
    deleted = _one(built, "stg_stripe__coupons", WS_A, "OLD10")
    assert (deleted["is_deleted"], deleted["created_at"], deleted["duration"]) == (True, None, None)
    code = _one(built, "stg_stripe__promotion_codes", WS_A, "promo_1")
    assert (code["coupon_id"], code["code"], code["minimum_amount"], code["is_first_time_transaction"]) == (
        "LAUNCH20",
        "LAUNCH20",
        1000,
        True,
    )
    other = _one(built, "stg_stripe__promotion_codes", WS_B, "promo_1")
    assert (other["customer_id"], other["is_active"], other["expires_at"]) == ("cus_1", False, None)


def test_deletions_detached_cards_and_paused_collection_are_marked(built: Warehouse) -> None:
    # Stripe's deleted stub alone (only the id known): still a customer, deleted.
    assert _one(built, "stg_stripe__customers", WS_B, "cus_3")["is_deleted"] is True
    assert _one(built, "stg_stripe__customers", WS_A, "cus_1")["is_deleted"] is False
    replaced = _one(built, "stg_stripe__payment_methods", WS_A, "pm_0")
    assert replaced["is_detached"] is True and replaced["customer_id"] is None
    current = _one(built, "stg_stripe__payment_methods", WS_A, "pm_2")
    assert current["is_detached"] is False and current["customer_id"] == "cus_2"
    assert (current["card_brand"], current["card_last4"], current["card_exp_month"]) == ("visa", "0003", 2)
    # Usable through the last second of February 2028 (a leap year).
    assert current["card_expires_at"] == datetime(2028, 2, 29, 23, 59, 59)
    assert _one(built, "stg_stripe__payment_methods", WS_B, "pm_1")["card_brand"] == "amex"
    paused = _one(built, "stg_stripe__subscriptions", WS_B, "sub_1")
    assert (
        paused["is_collection_paused"] is True and paused["pause_collection_behavior"] == "mark_uncollectible"
    )
    assert paused["pause_collection_resumes_at"] is not None
    collecting = _one(built, "stg_stripe__subscriptions", WS_A, "sub_1")
    assert collecting["is_collection_paused"] is False and collecting["pause_collection_resumes_at"] is None


def test_deleted_draft_is_marked_and_counted_nowhere(built: Warehouse) -> None:
    draft = _one(built, "stg_stripe__invoices", WS_B, "in_9")
    assert (draft["is_deleted"], draft["status"], draft["subscription_id"]) == (True, "draft", None)
    assert draft["amount_due"] == 45000  # the last state its `invoice.deleted` event carried
    assert _one(built, "stg_stripe__invoices", WS_B, "in_1")["is_deleted"] is False
    # Its line was loaded with the draft, but is not a line of the invoice's latest fetch.
    assert built.query(f"select * from {STAGING}.stg_stripe__invoice_lines where invoice_id = 'in_9'") == []
    # Nothing downstream names it: no posting (so no receivable: AR aging sums the postings), no
    # reconciliation, recovery or dunning row.
    relations = built.query(
        "select database, table from system.columns where database in ('staging', 'marts') "
        "and name = 'invoice_id' and table != 'stg_stripe__invoices'"
    )
    assert {r["table"] for r in relations} >= {
        "int_ledger__invoice_postings",
        "fct_ledger_entries",
        "fct_invoice_reconciliation",
        "fct_failed_payment_episodes",
    }
    for relation in relations:
        rows = built.query(
            f"select count() as n from {relation['database']}.{relation['table']} "
            "where toString(invoice_id) = 'in_9'"
        )
        assert rows == [{"n": 0}], relation
