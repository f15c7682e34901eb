"""The ledger's and metrics' invariants run as Dagster asset checks on their marts (dbt tests that
dagster-dbt turns into asset checks)."""

from __future__ import annotations

from dagster import AssetKey, Definitions

EXPECTED_CHECKS = {
    ("fct_ledger_entries", "ledger_transactions_balance"),
    ("fct_ledger_entries", "ledger_entries_never_change"),
    ("fct_ledger_entries", "stripe_balance_equals_balance_transactions"),
    ("fct_ledger_entries", "cash_equals_bank_balances"),
    ("fct_mrr_movements", "mrr_movements_sum_to_daily_change"),
}


def test_ledger_invariants_are_asset_checks_on_their_marts(production_definitions: Definitions) -> None:
    check_keys = production_definitions.resolve_asset_graph().asset_check_keys
    present = {(key.asset_key.path[-1], key.name) for key in check_keys if key.asset_key.path[0] == "marts"}
    assert present >= EXPECTED_CHECKS


def test_ledger_marts_are_assets_downstream_of_the_raw_tables(production_definitions: Definitions) -> None:
    graph = production_definitions.resolve_asset_graph()
    marts = ("fct_ledger_entries", "fct_payout_reconciliation", "fct_invoice_reconciliation", "fct_mrr_daily")
    for model in marts:
        assert AssetKey(["marts", model]) in graph.get_all_asset_keys()
    upstream = graph.get(AssetKey(["staging", "int_ledger__bank_postings"])).parent_keys
    assert AssetKey(["staging", "stg_plaid__transactions"]) in upstream
