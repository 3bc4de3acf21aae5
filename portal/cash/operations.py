"""A relay's till: opening a session, bank deposits, what the session should hold, closing it —
each one transaction; a closing is sealed in the ledger."""
import json
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from .. import clock, payments
from ..clock import local_day, utcnow
from ..database import write_transaction
from ..errors import Refused
from ..extensions import db
from ..ledger.operations import append_entry
from ..reports.operations import count_closing
from ..relays.models import Relay
from ..sales.models import Payment, Sale
from ..security import Role
from ..users.models import User
from .models import BankDeposit, CashCount, CashSession
from .payloads import closing_payload

# Notes and coins of the optional cash count, in cents. Prices are in whole euros or 50 cents:
# smaller coins are rare in the till (the cash counted can always be typed as one amount).
NOTES = (5000, 2000, 1000, 500)
COINS = (200, 100, 50, 20, 10)
DENOMINATIONS = NOTES + COINS
SLIP_LENGTH = 40


def counted_codes() -> list[str]:
    """The codes of the methods counted at a closing, in the forms' and reports' order."""
    return [method.code for method in payments.counted()]


def open_session_of(relay_id: int) -> CashSession | None:
    """The relay's open session, if any."""
    return db.session.scalar(select(CashSession).where(CashSession.relay_id == relay_id,
                                                       CashSession.closed_at.is_(None)))


def last_closed_session(relay_id: int) -> CashSession | None:
    return db.session.scalar(select(CashSession).where(
        CashSession.relay_id == relay_id, CashSession.closed_at.is_not(None))
        .order_by(CashSession.closed_at.desc(), CashSession.id.desc()).limit(1))


def carried_cash(relay_id: int) -> int:
    """The cash counted at the relay's last closing: the float a new session starts with by default."""
    return _counted_cash(last_closed_session(relay_id))


def _counted_cash(session: CashSession | None) -> int:
    if session is None:
        return 0
    return next((count.counted_cents for count in session.counts if count.method == payments.CASH), 0)


def _manager_only(user, what: str) -> None:
    if user.role != Role.MANAGER:
        raise Refused(f"Seul·e un·e référent·e peut {what}.")


def lock_relay(relay_id: int) -> None:
    """Make a closing, an opening, a deposit and a sale of a relay take turns (PostgreSQL row lock;
    SQLite already holds its write lock in write_transaction())."""
    db.session.execute(select(Relay.id).where(Relay.id == relay_id).with_for_update())


def open_session(user, float_cents: int | None = None, carry_over: bool = False,
                 at: datetime | None = None) -> CashSession:
    """Open the user's relay's till (a manager) with a counted float, or with the cash counted at
    the last closing (`carry_over`). Refused while a session is open."""
    _manager_only(user, "ouvrir la caisse")
    if not carry_over and (float_cents is None or float_cents < 0):
        raise Refused("Indiquez le fond de caisse compté (0 s'il est vide).", "opening_float")
    try:
        with write_transaction():
            lock_relay(user.relay_id)
            if open_session_of(user.relay_id):
                raise Refused("La caisse est déjà ouverte.")
            last = last_closed_session(user.relay_id) if carry_over else None
            session = CashSession(relay_id=user.relay_id, opened_at=at or utcnow(), opened_by_id=user.id,
                                  opening_float_cents=_counted_cash(last) if carry_over else float_cents,
                                  carried_from_id=last.id if last else None)
            db.session.add(session)
            return session
    except IntegrityError:  # the partial unique index: a twin request opened it first
        raise Refused("La caisse est déjà ouverte.") from None


def record_deposit(user, amount_cents: int, slip: str, at: datetime | None = None) -> BankDeposit:
    """Record cash taken from the open session's till to the bank (a manager), with its slip number."""
    _manager_only(user, "enregistrer un dépôt en banque")
    slip = (slip or "").strip()[:SLIP_LENGTH]
    if not amount_cents or amount_cents <= 0:
        raise Refused("Indiquez un montant supérieur à 0.", "amount")
    if not slip:
        raise Refused("Indiquez le numéro du bordereau de dépôt.", "slip_number")
    with write_transaction():
        lock_relay(user.relay_id)
        session = open_session_of(user.relay_id)
        if session is None:
            raise Refused("La caisse n'est pas ouverte.")
        in_till = session_summary(session)["expected"][payments.CASH]
        if amount_cents > in_till:
            raise Refused(f"La caisse ne devrait contenir que {in_till / 100:.2f} € en espèces.".replace(".", ","),
                          "amount")
        deposit = BankDeposit(session_id=session.id, amount_cents=amount_cents, slip_number=slip,
                              recorded_by_id=user.id, at=at or utcnow())
        db.session.add(deposit)
        return deposit


def session_summary(session: CashSession) -> dict:
    """The session's receipts (sales and voids) and the money it should hold per counted method.

    Cash starts with the float and loses the deposits; a void's payments are negative;
    `sales_count` counts every receipt, voids included, so that it matches first … last."""
    mine = Sale.cash_session_id == session.id
    expected = dict.fromkeys(counted_codes(), 0)
    for method, amount in db.session.execute(select(Payment.method, func.sum(Payment.amount_cents)).join(Sale)
                                             .where(mine).group_by(Payment.method)):
        if method in expected:
            expected[method] = int(amount)
    deposited = sum(deposit.amount_cents for deposit in session.deposits)
    expected[payments.CASH] = expected.get(payments.CASH, 0) + session.opening_float_cents - deposited
    count, voids, total = db.session.execute(select(
        func.count(Sale.id), func.count(Sale.voids_sale_id), func.coalesce(func.sum(Sale.total_cents), 0),
    ).where(mine)).one()
    first = db.session.scalar(select(Sale.number).where(mine).order_by(Sale.year, Sale.seq).limit(1))
    last = db.session.scalar(select(Sale.number).where(mine).order_by(Sale.year.desc(), Sale.seq.desc()).limit(1))
    return {"expected": expected, "sales_count": count, "voids_count": voids, "total_cents": int(total),
            "first_number": first or "", "last_number": last or "", "deposited_cents": deposited,
            "refunds": session_refunds(session.id)}


def session_refunds(session_id: int) -> list[dict]:
    """The session's voids, one line per refund payment: void number, original number, method, amount."""
    original = aliased(Sale)
    rows = db.session.execute(
        select(Sale.number, original.number, Payment.method, Payment.amount_cents)
        .join(original, original.id == Sale.voids_sale_id).join(Payment, Payment.sale_id == Sale.id)
        .where(Sale.cash_session_id == session_id).order_by(Sale.year, Sale.seq, Payment.id))
    return [{"number": number, "original": voided, "method": method, "amount_cents": amount}
            for number, voided, method, amount in rows]


def cash_detail_total(detail: dict[int, int]) -> int:
    """The cash counted note by note and coin by coin, in cents ({5000: 2, 50: 3} → 10150)."""
    return sum(int(value) * int(count) for value, count in detail.items())


def close_session(user, counted: dict, cash_detail: dict, reason: str, at: datetime | None = None) -> CashSession:
    """Close the user's relay's open session (a manager): counted vs expected per method, sealed
    in the ledger, counted in the reports on its local day. All or nothing."""
    _manager_only(user, "clôturer la caisse")
    relay_id, reason = user.relay_id, (reason or "").strip()[:300]
    codes = counted_codes()
    detail = {int(value): int(count) for value, count in (cash_detail or {}).items() if count}
    counted = {method: int(counted.get(method) or 0) for method in codes}
    if detail and cash_detail_total(detail) != counted[payments.CASH]:
        raise Refused("Le détail des billets et pièces ne donne pas le montant compté en espèces.", "counted_cash")
    with write_transaction():
        lock_relay(relay_id)
        session = open_session_of(relay_id)
        if session is None:
            raise Refused("Aucune session de caisse n'est ouverte.")
        summary = session_summary(session)
        if any(counted[m] != summary["expected"][m] for m in codes) and not reason:
            raise Refused("Indiquez la raison de l'écart entre le compté et l'attendu.", "reason")
        _fill_closing(session, user, summary, counted, detail, reason, at or utcnow())
        db.session.flush()
        append_entry(relay_id, "closing", session.id, closing_payload(session))
        count_closing(session)
        return session


def _fill_closing(session, user, summary: dict, counted: dict, detail: dict, reason: str, at: datetime) -> None:
    previous = last_closed_session(session.relay_id)
    session.closed_at, session.closed_by_id, session.day = at, user.id, local_day(at)
    session.difference_reason = reason
    session.cash_detail = json.dumps({str(v): detail[v] for v in sorted(detail, reverse=True)}) if detail else ""
    session.sales_count, session.total_cents = summary["sales_count"], summary["total_cents"]
    session.first_number, session.last_number = summary["first_number"], summary["last_number"]
    session.grand_total_cents = (previous.grand_total_cents if previous else 0) + summary["total_cents"]
    for method, cents in counted.items():
        session.counts.append(CashCount(method=method, expected_cents=summary["expected"][method],
                                        counted_cents=cents))


def till_status(user) -> dict:
    """What the sale screen says of the till before a cart is built: the open session, or who can
    open it and the float a manager would carry over."""
    session = open_session_of(user.relay_id)
    if session is not None:
        return {"open": True, "opened_at": session.opened_at}
    managers = db.session.scalars(select(User.display_name).where(
        User.relay_id == user.relay_id, User.role == Role.MANAGER, User.active).order_by(User.display_name)).all()
    return {"open": False, "can_open": user.role == Role.MANAGER, "managers": list(managers),
            "carried_cents": carried_cash(user.relay_id)}


def long_open_sessions(relay_id: int) -> list[CashSession]:
    """The relay's session still open from a day before today (its till was not closed that evening)."""
    session = open_session_of(relay_id)
    return [session] if session and local_day(session.opened_at) < clock.today() else []
