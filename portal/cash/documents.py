"""Plain-data context of a day's closing: its page, its PDF report and the report's HTML twin."""
import json

from sqlalchemy import select

from ..extensions import db
from ..ledger.models import LedgerEntry
from ..ledger.operations import short_fingerprint
from ..sales.models import PAYMENT_METHODS
from ..templating import local_date, local_datetime, money
from .forms import denomination_label
from .models import CashClosing
from .operations import COUNTED_METHODS


def signed_money(cents: int) -> str:
    """A difference: "+2,00 €", "-1,50 €" or "0,00 €"."""
    return ("+" if cents > 0 else "") + money(cents)


def closing_context(closing: CashClosing) -> dict:
    """Every figure of a closing, formatted; plain values only."""
    relay = closing.relay
    rows = []
    for method in COUNTED_METHODS:
        expected = getattr(closing, f"expected_{method}_cents")
        counted = getattr(closing, f"counted_{method}_cents")
        rows.append({"method": PAYMENT_METHODS[method], "expected": money(expected), "counted": money(counted),
                     "difference": signed_money(counted - expected), "differs": counted != expected})
    expected_total = sum(getattr(closing, f"expected_{m}_cents") for m in COUNTED_METHODS)
    counted_total = sum(getattr(closing, f"counted_{m}_cents") for m in COUNTED_METHODS)
    detail = json.loads(closing.cash_detail) if closing.cash_detail else {}
    return {
        "page_size": "A5",
        "relay": {"name": relay.name, "address": relay.address, "town": relay.town},
        "day": local_date(closing.day, "EEEE d MMMM y"),
        "day_short": local_date(closing.day, "dd/MM/y"),
        "methods": rows,
        "expected_total": money(expected_total), "counted_total": money(counted_total),
        "difference_total": signed_money(counted_total - expected_total),
        "differs": any(row["differs"] for row in rows),
        "reason": closing.difference_reason,
        "cash_detail": [{"label": denomination_label(int(cents)), "count": count,
                         "amount": money(int(cents) * count)} for cents, count in detail.items()],
        "sales_count": closing.sales_count,
        "first_number": closing.first_number, "last_number": closing.last_number,
        "day_total": money(closing.day_total_cents), "grand_total": money(closing.grand_total_cents),
        "closed_by": closing.closed_by.display_name,
        "closed_at": local_datetime(closing.closed_at, "dd/MM/y 'à' HH:mm"),
        "fingerprint": _fingerprint(closing),
    }


def _fingerprint(closing: CashClosing) -> str | None:
    mac = db.session.scalar(select(LedgerEntry.mac).where(
        LedgerEntry.relay_id == closing.relay_id, LedgerEntry.kind == "closing", LedgerEntry.ref_id == closing.id))
    return short_fingerprint(mac) if mac else None
