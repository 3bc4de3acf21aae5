"""Plain-data context of a closed cash session: its page, its PDF report and the report's HTML twin."""
import json

from sqlalchemy import select

from .. import payments
from ..extensions import db
from ..ledger.models import LedgerEntry
from ..ledger.operations import short_fingerprint
from ..templating import local_date, local_datetime, money
from .forms import denomination_label
from .models import CashSession
from .operations import session_refunds

WHEN = "dd/MM/y 'à' HH:mm"


def signed_money(cents: int) -> str:
    """A difference: "+2,00 €", "-1,50 €" or "0,00 €"."""
    return ("+" if cents > 0 else "") + money(cents)


def closing_context(session: CashSession) -> dict:
    """Every figure of a closed session, formatted; plain values only. The methods are the ones
    counted at that closing (its cash_count rows), whatever the list says today."""
    rows = [{"method": payments.label(c.method), "expected": money(c.expected_cents), "counted": money(c.counted_cents),
             "difference": signed_money(c.counted_cents - c.expected_cents),
             "differs": c.counted_cents != c.expected_cents} for c in session.counts]
    expected_total = sum(c.expected_cents for c in session.counts)
    counted_total = sum(c.counted_cents for c in session.counts)
    detail = json.loads(session.cash_detail) if session.cash_detail else {}
    relay = session.relay
    return {
        "page_size": "A5",
        "relay": {"name": relay.name, "address": relay.address, "town": relay.town},
        "day": local_date(session.day, "EEEE d MMMM y"), "day_short": local_date(session.day, "dd/MM/y"),
        "opened_at": local_datetime(session.opened_at, WHEN),
        "opened_by": session.opened_by.display_name if session.opened_by else "",
        "opening_float": money(session.opening_float_cents),
        "carried": session.carried_from_id is not None,
        "methods": rows,
        "expected_total": money(expected_total), "counted_total": money(counted_total),
        "difference_total": signed_money(counted_total - expected_total),
        "differs": any(row["differs"] for row in rows),
        "reason": session.difference_reason,
        "cash_detail": [{"label": denomination_label(int(cents)), "count": count,
                         "amount": money(int(cents) * count)} for cents, count in detail.items()],
        "deposits": [{"amount": money(d.amount_cents), "slip": d.slip_number, "at": local_datetime(d.at, WHEN)}
                     for d in session.deposits],
        "refunds": [{"number": r["number"], "original": r["original"], "method": payments.label(r["method"]),
                     "amount": money(r["amount_cents"])} for r in session_refunds(session.id)],
        "sales_count": session.sales_count,
        "first_number": session.first_number, "last_number": session.last_number,
        "total": money(session.total_cents), "grand_total": money(session.grand_total_cents),
        "closed_by": session.closed_by.display_name if session.closed_by else "",
        "closed_at": local_datetime(session.closed_at, WHEN),
        "fingerprint": _fingerprint(session),
    }


def _fingerprint(session: CashSession) -> str | None:
    mac = db.session.scalar(select(LedgerEntry.mac).where(
        LedgerEntry.relay_id == session.relay_id, LedgerEntry.kind == "closing", LedgerEntry.ref_id == session.id))
    return short_fingerprint(mac) if mac else None
