"""QuickBooks and Xero staging and the provider-neutral accounting models, built by `revops-dbt` on
an embedded warehouse loaded from the simulator (acme keeps QuickBooks Online, globex Xero)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal

import pytest

from revops_simulator import SimulatorServer, World
from revops_simulator.business.books import BookInvoice
from revops_simulator.business.clock import day_end, to_date
from tests.support import isolated_warehouse, load_simulated, query, run_dbt

SELECT = ["staging.quickbooks", "staging.xero", "intermediate.accounting"]
# Staging model → its key columns (after the workspace).
STAGING_KEYS: dict[str, list[str]] = {
    "stg_qbo__accounts": ["account_id"],
    "stg_qbo__customers": ["customer_id"],
    "stg_qbo__items": ["item_id"],
    "stg_qbo__invoices": ["invoice_id"],
    "stg_qbo__payments": ["payment_id"],
    "stg_qbo__deposits": ["deposit_id"],
    "stg_qbo__journal_lines": ["journal_entry_id", "line_number"],
    "stg_qbo__credit_memos": ["credit_memo_id"],
    "stg_qbo__refund_receipts": ["refund_receipt_id"],
    "stg_xero__accounts": ["account_id"],
    "stg_xero__contacts": ["contact_id"],
    "stg_xero__invoices": ["invoice_id"],
    "stg_xero__payments": ["payment_id"],
    "stg_xero__bank_transactions": ["bank_transaction_id"],
    "stg_xero__journal_lines": ["manual_journal_id", "line_number"],
    "stg_xero__credit_notes": ["credit_note_id"],
    "stg_xero__credit_note_allocations": ["credit_note_id", "allocation_number"],
    "stg_xero__overpayments": ["overpayment_id"],
    "stg_xero__prepayments": ["prepayment_id"],
}
INTERMEDIATE = [
    "int_accounting__accounts",
    "int_accounting__invoices",
    "int_accounting__payments",
    "int_accounting__journal_lines",
    "int_accounting__credit_notes",
]


SEED, SCALE = 42, 0.1
AS_OF = date(2026, 10, 8)


def _deleted_in_quickbooks() -> list[BookInvoice]:
    books = World(seed=SEED, as_of=AS_OF, scale=SCALE).books("acme")
    return sorted((i for i in books.invoices if i.deleted_at is not None), key=lambda i: i.deleted_at or 0)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """Load both workspaces' books before QuickBooks' first deletion, months later (a re-listing
    that finds the deleted invoices gone), and a week after that (CDC); then build."""
    home = tmp_path_factory.mktemp("revops_home")
    first_deletion = to_date(_deleted_in_quickbooks()[0].deleted_at or 0)
    with isolated_warehouse(home):
        world = World(seed=SEED, as_of=first_deletion - timedelta(days=1), scale=SCALE)
        with SimulatorServer(world) as server:
            for day in (first_deletion - timedelta(days=1), date(2026, 10, 1), AS_OF):
                world.advance_to(day)
                load_simulated(world, server, ["quickbooks", "xero"])
        build = run_dbt(home, "build", "--select", *SELECT).assert_ok()
        assert "WARN=0" in build.output, build.output
        yield world


def test_staging_is_duplicate_free_and_complete(built: World) -> None:
    for model, key in STAGING_KEYS.items():
        columns = ", ".join(["workspace_id", *key])
        (row,) = query(f"select count() as n, uniqExact({columns}) as keys from staging.{model}")
        assert row["n"] == row["keys"] > 0, model
    truth = built.books_truth("acme")
    assert truth is not None
    invoices = {
        row["invoice_id"]: row
        for row in query("select * from staging.stg_qbo__invoices where not is_deleted")
    }
    assert set(invoices) == {obj["Id"] for obj in truth.objects["Invoice"]}
    for obj in truth.objects["Invoice"]:
        row = invoices[obj["Id"]]
        # Exact conversion: integer cents from QBO's decimal, and the same Decimal back.
        assert row["total"] == int(obj["TotalAmt"] * 100) and row["total_major"] == obj["TotalAmt"]
        assert row["currency"] == obj["CurrencyRef"]["value"] and str(row["invoice_date"]) == obj["TxnDate"]
        assert row["balance"] == int(obj["Balance"] * 100) and row["balance_major"] == obj["Balance"]
        assert row["status"] == (
            "voided" if obj["PrivateNote"].startswith("Voided") else "paid" if not obj["Balance"] else "open"
        )
        assert not row["is_deleted"] and row["deleted_at"] is None


def test_xero_dates_and_signed_journals(built: World) -> None:
    truth = built.books_truth("globex")
    assert truth is not None
    payments = {row["payment_id"]: row for row in query("select * from staging.stg_xero__payments")}
    for obj in truth.objects["Payments"]:
        row = payments[obj["PaymentID"]]
        assert str(row["payment_date"]) == obj["DateString"][:10] and row["amount_major"] == obj["Amount"]
        assert int(row["updated_at"].timestamp() * 1000) == int(obj["UpdatedDateUTC"][6:19])
    statuses = {
        "AUTHORISED": "open",
        "PAID": "paid",
        "VOIDED": "voided",
        "DELETED": "deleted",
        "DRAFT": "draft",
    }
    invoices = {row["invoice_id"]: row for row in query("select * from staging.stg_xero__invoices")}
    for obj in truth.objects["Invoices"]:
        row = invoices[obj["InvoiceID"]]
        assert (row["status"], row["total_major"], row["amount_due_major"]) == (
            statuses[obj["Status"]],
            obj["Total"],
            obj["AmountDue"],
        )
        assert (row["total"], row["amount_paid"]) == (int(obj["Total"] * 100), int(obj["AmountPaid"] * 100))
    unbalanced = query(
        "select workspace_id, journal_id from staging.int_accounting__journal_lines "
        "group by all having sum(amount) != 0 or sum(amount_major) != 0"
    )
    assert unbalanced == []


def test_intermediate_models_hold_both_workspaces_in_one_shape(built: World) -> None:
    for model in INTERMEDIATE:
        systems = query(
            f"select workspace_id, groupUniqArray(source_system) as systems from staging.{model} group by all"
        )
        assert {row["workspace_id"]: row["systems"] for row in systems} == {
            "acme": ["quickbooks"],
            "globex": ["xero"],
        }, model
    invoices = query(
        "select workspace_id, status, count() as n, sum(total) as total "
        "from staging.int_accounting__invoices where not is_deleted or source_system = 'xero' group by all"
    )
    for workspace_id, key, total_field in (("acme", "Invoice", "TotalAmt"), ("globex", "Invoices", "Total")):
        truth = built.books_truth(workspace_id)
        assert truth is not None
        expected = sum((obj[total_field] for obj in truth.objects[key]), Decimal(0)) * 100
        assert sum(row["total"] for row in invoices if row["workspace_id"] == workspace_id) == expected
        assert {row["status"] for row in invoices if row["workspace_id"] == workspace_id} <= {
            "open",
            "paid",
            "voided",
            "deleted",
        }
    fees = query(
        "select workspace_id, account_class, sum(amount) as amount "
        "from staging.int_accounting__journal_lines where posting_type = 'debit' group by all"
    )
    assert {(row["workspace_id"], row["account_class"]) for row in fees} == {
        ("acme", "expense"),
        ("globex", "expense"),
    }


def test_deleted_quickbooks_invoices_keep_their_last_known_values(built: World) -> None:
    """The re-listing found them gone: soft-deleted, with the values they had before (those the
    first load saw; one created and deleted between two loads is never known to the warehouse)."""
    invoices = _deleted_in_quickbooks()
    first_load = day_end(to_date(invoices[0].deleted_at or 0) - timedelta(days=1))
    deleted = {str(i.number): i for i in invoices if i.created <= first_load}
    assert deleted
    rows = {
        row["invoice_id"]: row
        for row in query("select * from staging.stg_qbo__invoices where workspace_id = 'acme' and is_deleted")
    }
    assert set(rows) == set(deleted)
    for invoice_id, invoice in deleted.items():
        row = rows[invoice_id]
        assert (row["status"], row["invoice_number"], row["total"]) == (
            "deleted",
            invoice.doc_number,
            invoice.total,
        )
        assert row["deleted_at"] is not None and row["currency"] == invoice.currency
    flagged = query(
        "select invoice_id from staging.int_accounting__invoices where workspace_id = 'acme' and is_deleted"
    )
    assert {row["invoice_id"] for row in flagged} == set(deleted)


def test_xero_deletions_and_voids_are_statuses(built: World) -> None:
    books = built.books("globex")
    rows = {
        row["invoice_number"]: row
        for row in query("select * from staging.int_accounting__invoices where workspace_id = 'globex'")
    }
    for invoice in books.invoices:
        if invoice.deleted_at is not None:
            expected = ("deleted", True) if invoice.draft else ("voided", False)
            assert (rows[invoice.doc_number]["status"], rows[invoice.doc_number]["is_deleted"]) == expected


def test_credit_notes_match_the_books_in_both_systems(built: World) -> None:
    rows = query(
        "select * from staging.int_accounting__credit_notes order by workspace_id, credit_note_number"
    )
    for workspace_id in ("acme", "globex"):
        books = built.books(workspace_id)
        mine = {row["credit_note_number"]: row for row in rows if row["workspace_id"] == workspace_id}
        assert set(mine) == {credit.doc_number for credit in books.credits}, workspace_id
        sql = "select invoice_number, invoice_id from staging.int_accounting__invoices where workspace_id = {ws:String}"  # noqa: E501
        invoices = {row["invoice_number"]: row["invoice_id"] for row in query(sql, ws=workspace_id)}
        for credit in books.credits:
            row = mine[credit.doc_number]
            applied = credit.amount if credit.outcome == "applied" else 0
            refunded = credit.amount if credit.outcome == "refund" else 0
            assert (row["total"], row["amount_applied"], row["amount_refunded"], row["remaining_credit"]) == (
                credit.amount,
                applied,
                refunded,
                credit.amount - applied - refunded,
            ), credit.doc_number
            assert row["is_write_off"] == (credit.account == "bad_debt")
            assert row["currency"] == credit.currency and not row["is_deleted"]
            if workspace_id == "acme" and credit.outcome == "refund":
                assert row["credit_kind"] == "refund_receipt"
            elif credit.invoice is not None and (workspace_id == "acme" or credit.outcome == "applied"):
                assert row["invoice_id"] == invoices[credit.invoice.doc_number]


def test_unapplied_receipts_are_payments_without_an_invoice(built: World) -> None:
    rows = query(
        "select workspace_id, source_system, amount from staging.int_accounting__payments "
        "where payment_kind = 'unapplied_receipt' order by workspace_id, amount"
    )
    for workspace_id in ("acme", "globex"):
        expected = sorted(
            p.amount for p in built.books(workspace_id).payments if p.kind in ("overpayment", "prepayment")
        )
        assert [row["amount"] for row in rows if row["workspace_id"] == workspace_id] == expected
    # Credit applications move no money: they are not receipts.
    (row,) = query("select count() as n from staging.int_accounting__payments where amount = 0")
    assert row["n"] == 0
