"""Plain-data context for a sale's receipt (or a void's), original or duplicate."""
from datetime import datetime

from sqlalchemy import select

from .. import payments
from ..extensions import db
from ..ledger.models import LedgerEntry
from ..ledger.operations import short_fingerprint
from ..templating import local_datetime, money
from .models import Sale


def receipt_context(sale: Sale, print_number: int, printed_at: datetime | None = None) -> dict:
    """What pdf/receipt.html prints; print_number 0 is the original, n ≥ 1 is "DUPLICATA n",
    printed at `printed_at` (naive UTC; None when not known or not printed yet)."""
    relay, person = sale.relay, sale.beneficiary
    economy = sale.reference_total_cents - sale.total_cents
    return {
        "page_size": relay.receipt_format,
        "relay": {"name": relay.name, "address": relay.address, "town": relay.town,
                  "legal_mention": relay.legal_mention},
        "number": sale.number,
        "at": local_datetime(sale.created_at, "dd/MM/y HH:mm"),
        "volunteer": (sale.user.display_name.split() or [""])[0],
        "person": {"name": person.full_name, "code": person.code} if person else None,
        "lines": [_line(line) for line in sale.lines],
        "total": money(sale.total_cents),
        "reference_total": money(sale.reference_total_cents),
        "economy": money(economy) if economy > 0 else None,
        "payments": [_payment(p) for p in sale.payments],
        "override_reason": sale.override_reason or None,
        "voids": {"number": sale.voids.number, "reason": sale.void_reason} if sale.is_void else None,
        "voided_by": sale.voided_by.number if sale.voided_by else None,
        "duplicate": print_number if print_number >= 1 else None,
        "reprinted_at": local_datetime(printed_at, "dd/MM/y HH:mm") if print_number >= 1 and printed_at else None,
        "fingerprint": _fingerprint(sale),
    }


def _line(line) -> dict:
    return {
        "label": line.label, "serial": line.serial, "grade": line.grade, "quantity": line.quantity,
        "unit": money(line.unit_cents), "total": money(line.total_cents),
        # The product's usual price: the receipt shows it when the solidarity price is lower.
        "reference_unit": money(line.reference_unit_cents),
    }


def _payment(payment) -> dict:
    given = payment.given_cents
    return {
        "method": payments.label(payment.method),
        "amount": money(payment.amount_cents),
        "given": money(given) if given is not None and given != payment.amount_cents else None,
        "change": money(given - payment.amount_cents) if given is not None and given > payment.amount_cents else None,
        "reference": payment.reference or None,
    }


def _fingerprint(sale: Sale) -> str | None:
    """The short fingerprint of the ledger entry that seals the sale (None if it has none)."""
    mac = db.session.scalar(select(LedgerEntry.mac).where(
        LedgerEntry.relay_id == sale.relay_id, LedgerEntry.kind == ("void" if sale.is_void else "sale"),
        LedgerEntry.ref_id == sale.id))
    return short_fingerprint(mac) if mac else None
