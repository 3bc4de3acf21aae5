"""The day's figures of a relay's till, and closing a day: one transaction, sealed in the ledger."""
import json
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import clock
from ..clock import day_bounds, local_day, utcnow
from ..database import write_transaction
from ..errors import Refused
from ..extensions import db
from ..ledger.operations import append_entry, register_source
from ..relays.models import Relay
from ..reports.operations import count_closing
from ..sales.models import Payment, Sale
from ..security import Role
from .models import COUNTED_METHODS, CashClosing

# Notes and coins of the optional cash count, in cents. Prices are in whole euros or 50 cents:
# smaller coins are rare in the till (the cash counted can always be typed as one amount).
NOTES = (5000, 2000, 1000, 500)
COINS = (200, 100, 50, 20, 10)
DENOMINATIONS = NOTES + COINS


def day_summary(relay_id: int, day: date) -> dict:
    """The receipts (sales and voids) of the relay's local day and the money they should have brought.

    `expected` is per counted method (a void gives money back: its payments are negative);
    `sales_count` counts every receipt of the day, voids included, so that it matches the range
    first_number … last_number."""
    start, end = day_bounds(day)
    in_day = (Sale.relay_id == relay_id, Sale.created_at >= start, Sale.created_at < end)
    expected = dict.fromkeys(COUNTED_METHODS, 0)
    rows = db.session.execute(select(Payment.method, func.sum(Payment.amount_cents)).join(Sale)
                              .where(*in_day).group_by(Payment.method))
    for method, amount in rows:
        if method in expected:
            expected[method] = int(amount)
    count, voids, total = db.session.execute(select(
        func.count(Sale.id), func.count(Sale.voids_sale_id), func.coalesce(func.sum(Sale.total_cents), 0),
    ).where(*in_day)).one()
    numbers = db.session.execute(select(Sale.number).where(*in_day).order_by(Sale.year, Sale.seq)).scalars().all()
    return {
        "day": day, "expected": expected, "sales_count": count, "voids_count": voids,
        "first_number": numbers[0] if numbers else "", "last_number": numbers[-1] if numbers else "",
        "day_total_cents": int(total),
    }


def cash_detail_total(detail: dict[int, int]) -> int:
    """The cash counted note by note and coin by coin, in cents ({5000: 2, 50: 3} → 10150)."""
    return sum(int(value) * int(count) for value, count in detail.items())


def close_day(user, day: date, counted: dict, cash_detail: dict, reason: str) -> CashClosing:
    """Close the user's relay's `day` (a manager): counted vs expected, sealed in the ledger.

    `counted` maps each of COUNTED_METHODS to cents; `cash_detail` maps a note or coin (cents) to
    how many were counted (empty when not counted that way). All or nothing, once per day."""
    if user.role != Role.MANAGER:
        raise Refused("Seul·e un·e référent·e peut clôturer la caisse.")
    relay_id, reason = user.relay_id, (reason or "").strip()[:300]
    detail = {int(value): int(count) for value, count in (cash_detail or {}).items() if count}
    counted = {method: int(counted.get(method) or 0) for method in COUNTED_METHODS}
    if detail and cash_detail_total(detail) != counted["cash"]:
        raise Refused("Le détail des billets et pièces ne donne pas le montant compté en espèces.",
                      "counted_cash")
    try:
        with write_transaction():
            # Closings of a relay take turns (PostgreSQL; SQLite already holds its write lock).
            db.session.execute(select(Relay.id).where(Relay.id == relay_id).with_for_update())
            problem = closing_problem(relay_id, day)
            if problem:
                raise Refused(problem)
            summary = day_summary(relay_id, day)
            if any(counted[m] != summary["expected"][m] for m in COUNTED_METHODS) and not reason:
                raise Refused("Indiquez la raison de l'écart entre le compté et l'attendu.", "reason")
            closing = _closing_row(user, day, summary, counted, detail, reason)
            db.session.add(closing)
            db.session.flush()
            append_entry(relay_id, "closing", closing.id, closing_payload(closing))
            count_closing(closing)
            return closing
    except IntegrityError:
        if _closing_of(relay_id, day):  # a twin request closed it first
            raise Refused("Cette journée est déjà clôturée.") from None
        raise


def _closing_row(user, day: date, summary: dict, counted: dict, detail: dict, reason: str) -> CashClosing:
    return CashClosing(
        relay_id=user.relay_id, day=day, difference_reason=reason, closed_by_id=user.id, closed_at=utcnow(),
        cash_detail=json.dumps({str(v): detail[v] for v in sorted(detail, reverse=True)}) if detail else "",
        sales_count=summary["sales_count"], first_number=summary["first_number"],
        last_number=summary["last_number"], day_total_cents=summary["day_total_cents"],
        grand_total_cents=_previous_grand_total(user.relay_id, day) + summary["day_total_cents"],
        **{f"expected_{m}_cents": summary["expected"][m] for m in COUNTED_METHODS},
        **{f"counted_{m}_cents": counted[m] for m in COUNTED_METHODS},
    )


def closing_problem(relay_id: int, day: date) -> str | None:
    """Why `day` cannot be closed (in French), or None. Refused: a future day, a closed day, and any
    day out of order — the running grand total adds the days one after the other, so days are
    closed oldest first and none is skipped."""
    if day > clock.today():
        return "On ne peut pas clôturer une journée à venir."
    if _closing_of(relay_id, day):
        return "Cette journée est déjà clôturée."
    last_closed = db.session.scalar(select(func.max(CashClosing.day)).where(CashClosing.relay_id == relay_id))
    if last_closed and day < last_closed:
        return f"Une journée plus récente (le {last_closed:%d/%m/%Y}) est déjà clôturée."
    earlier = [d for d in unclosed_days(relay_id) if d < day]
    if earlier:
        return f"Clôturez d'abord la journée du {earlier[0]:%d/%m/%Y}."
    return None


def _closing_of(relay_id: int, day: date) -> int | None:
    return db.session.scalar(select(CashClosing.id).where(CashClosing.relay_id == relay_id, CashClosing.day == day))


def _previous_grand_total(relay_id: int, day: date) -> int:
    last = db.session.scalar(select(CashClosing.grand_total_cents).where(
        CashClosing.relay_id == relay_id, CashClosing.day < day).order_by(CashClosing.day.desc()).limit(1))
    return last or 0


def unclosed_days(relay_id: int) -> list[date]:
    """The local days up to today, oldest first, with receipts and no closing."""
    last_closed = db.session.scalar(select(func.max(CashClosing.day)).where(CashClosing.relay_id == relay_id))
    query = select(Sale.created_at).where(Sale.relay_id == relay_id)
    if last_closed:
        # Days are closed in order: only the days after the last closing can be open.
        query = query.where(Sale.created_at >= day_bounds(last_closed)[1])
    today = clock.today()
    return sorted({d for d in map(local_day, db.session.scalars(query)) if d <= today})


def closing_payload(closing: CashClosing) -> dict:
    """What the ledger seals of a closing: every figure its report states."""
    return {
        "relay_id": closing.relay_id, "day": closing.day.isoformat(),
        "expected": [getattr(closing, f"expected_{m}_cents") for m in COUNTED_METHODS],
        "counted": [getattr(closing, f"counted_{m}_cents") for m in COUNTED_METHODS],
        "cash_detail": closing.cash_detail, "reason": closing.difference_reason,
        "sales_count": closing.sales_count, "first": closing.first_number, "last": closing.last_number,
        "day_total": closing.day_total_cents, "grand_total": closing.grand_total_cents,
        "closed_by": closing.closed_by_id, "at": closing.closed_at.isoformat(),
    }


def _sealed_payloads(kind: str, closing_ids: list[int]) -> dict[int, dict]:
    if kind != "closing":
        return {}
    return {closing.id: closing_payload(closing)
            for closing in db.session.scalars(select(CashClosing).where(CashClosing.id.in_(closing_ids)))}


def _relay_closings(relay_id: int) -> set[tuple[str, int]]:
    return {("closing", closing_id) for closing_id in
            db.session.scalars(select(CashClosing.id).where(CashClosing.relay_id == relay_id))}


register_source(("closing",), _sealed_payloads, _relay_closings)
