"""What the ledger seals of a closed cash session, in each payload format, and how the ledger
finds the closings to verify."""
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..ledger.operations import register_source
from .models import MIGRATED_FORMAT, CashSession

# The methods of the closings sealed before sessions existed, in their payload's order. Fixed
# here, never read from the current list: those entries must verify byte for byte forever.
FORMAT_1_METHODS = ("cash", "card", "cheque")


def closing_payload(session: CashSession) -> dict:
    """Every figure the closing report states, as the session's format seals it."""
    if session.payload_format == MIGRATED_FORMAT:
        return _format_1(session)
    return _format_2(session)


def _format_1(session: CashSession) -> dict:
    counts = {count.method: count for count in session.counts}
    return {
        "relay_id": session.relay_id, "day": session.day.isoformat(),
        "expected": [counts[m].expected_cents if m in counts else 0 for m in FORMAT_1_METHODS],
        "counted": [counts[m].counted_cents if m in counts else 0 for m in FORMAT_1_METHODS],
        "cash_detail": session.cash_detail, "reason": session.difference_reason,
        "sales_count": session.sales_count, "first": session.first_number, "last": session.last_number,
        "day_total": session.total_cents, "grand_total": session.grand_total_cents,
        "closed_by": session.closed_by_id, "at": session.closed_at.isoformat(),
    }


def _format_2(session: CashSession) -> dict:
    return {
        "format": 2, "relay_id": session.relay_id, "day": session.day.isoformat(),
        "opened_at": session.opened_at.isoformat(), "opened_by": session.opened_by_id,
        "float": session.opening_float_cents, "carried_from": session.carried_from_id,
        "closed_at": session.closed_at.isoformat(), "closed_by": session.closed_by_id,
        "expected": {count.method: count.expected_cents for count in session.counts},
        "counted": {count.method: count.counted_cents for count in session.counts},
        "deposits": [[d.amount_cents, d.slip_number, d.recorded_by_id, d.at.isoformat()] for d in session.deposits],
        "cash_detail": session.cash_detail, "reason": session.difference_reason,
        "sales_count": session.sales_count, "first": session.first_number, "last": session.last_number,
        "total": session.total_cents, "grand_total": session.grand_total_cents,
    }


def _sealed_payloads(kind: str, session_ids: list[int]) -> dict[int, dict]:
    if kind != "closing":
        return {}
    sessions = db.session.scalars(select(CashSession).where(CashSession.id.in_(session_ids),
                                                            CashSession.closed_at.is_not(None))
                                  .options(selectinload(CashSession.counts), selectinload(CashSession.deposits)))
    return {session.id: closing_payload(session) for session in sessions}


def _relay_closings(relay_id: int) -> set[tuple[str, int]]:
    return {("closing", session_id) for session_id in db.session.scalars(select(CashSession.id).where(
        CashSession.relay_id == relay_id, CashSession.closed_at.is_not(None)))}


register_source(("closing",), _sealed_payloads, _relay_closings)
