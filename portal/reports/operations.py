"""Keeping the report figures exact: called inside the transactions that record what they count."""
from collections import defaultdict
from datetime import date

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from ..clock import day_bounds, local_day
from ..extensions import db
from .models import DAY, MONTH, SPANS, YEAR


def count_sale(sale) -> None:
    """Add a sale (or a void: negative quantities and amounts) to its relay's figures of its day."""
    figures, amounts = defaultdict(int), defaultdict(int)
    head = ("voids", "") if sale.voids_sale_id else ("sales", "")
    figures[head] += 1
    amounts[head] += sale.total_cents
    for line in sale.lines:
        figures[("category", line.category)] += line.quantity
        amounts[("category", line.category)] += line.quantity * line.unit_cents
    for payment in sale.payments:
        figures[("payment", payment.method)] += -1 if sale.voids_sale_id else 1
        amounts[("payment", payment.method)] += payment.amount_cents
    day = local_day(sale.created_at)
    add(sale.relay_id, day, {key: (figures[key], amounts[key]) for key in figures})
    if sale.beneficiary_id and not sale.voids_sale_id:
        served(sale.relay_id, day, sale.beneficiary_id)


def count_onboarding(person) -> None:
    add(person.relay_id, local_day(person.created_at), {("onboarded", ""): (1, 0)})


def count_attendance(session, beneficiary_id: int, before: str | None, after: str) -> None:
    """A mark changed from `before` (None: no mark) to `after`: present marks and their minutes."""
    change = (after == "present") - (before == "present")
    if change:
        add(session.relay_id, session.day, {("present", ""): (change, change * session.duration_minutes)})
    if after == "present":
        served(session.relay_id, session.day, beneficiary_id, present=True)
    elif before == "present":
        unserved(session.relay_id, session.day, beneficiary_id, session.id)


def count_session_change(session, old_day: date, old_minutes: int) -> None:
    """A session moved to another day or given another length after people were marked present:
    their marks and minutes leave the old day and count on the new one, and so do the people served."""
    from ..workshops.models import Attendance

    people = db.session.scalars(select(Attendance.beneficiary_id).where(
        Attendance.session_id == session.id, Attendance.status == "present")).all()
    if not people:
        return
    n = len(people)
    add(session.relay_id, old_day, {("present", ""): (-n, -n * old_minutes)})
    add(session.relay_id, session.day, {("present", ""): (n, n * session.duration_minutes)})
    if old_day != session.day:
        for beneficiary_id in people:
            unserved(session.relay_id, old_day, beneficiary_id, session.id)
            served(session.relay_id, session.day, beneficiary_id, present=True)


def count_closing(closing) -> None:
    """A closed cash session, counted on its local day, and its difference if the counted
    amounts were not the expected ones."""
    gap = sum(abs(difference) for difference in closing.differences().values())
    figures = {("closing", ""): (1, 0)}
    if gap:
        figures[("closing_gap", "")] = (1, gap)
    add(closing.relay_id, closing.day, figures)


def rebuild_activity() -> int:
    """Write the report tables again from the sales, people, attendance marks and closings (for a
    database that held data before they existed, or after a repair); returns the rows read."""
    from ..beneficiaries.models import Beneficiary
    from ..cash.models import CashSession
    from ..sales.models import Sale
    from ..workshops.models import Attendance, WorkshopSession

    for span in SPANS:
        for model in (span.figures, span.people, span.participants):
            db.session.execute(delete(model))
    read = 0
    for sale in db.session.scalars(select(Sale).order_by(Sale.id).execution_options(yield_per=500)):
        count_sale(sale)
        read += 1
    for person in db.session.scalars(select(Beneficiary).execution_options(yield_per=500)):
        count_onboarding(person)
        read += 1
    for mark, session in db.session.execute(select(Attendance, WorkshopSession).join(WorkshopSession)
                                            .where(Attendance.status == "present")):
        count_attendance(session, mark.beneficiary_id, None, "present")
        read += 1
    for closing in db.session.scalars(select(CashSession).where(CashSession.closed_at.is_not(None))):
        count_closing(closing)
        read += 1
    db.session.commit()
    return read


def add(relay_id: int, day: date, figures: dict[tuple[str, str], tuple[int, int]]) -> None:
    """Add (count, amount) to each (figure, key) of the relay's day, month and year, creating the rows."""
    if not figures:
        return
    for span in SPANS:
        rows = [{"relay_id": relay_id, span.column: span.first_day(day), "figure": figure, "key": key, "count": count,
                 "amount_cents": amount} for (figure, key), (count, amount) in figures.items()]
        db.session.execute(_adding(span.figures.__table__), rows)


def served(relay_id: int, day: date, beneficiary_id: int, present: bool = False) -> None:
    """The person was served by the relay that day (`present`: at one of its workshops), hence that
    month and that year."""
    for span in SPANS:
        for model in (span.people, span.participants) if present else (span.people,):
            db.session.execute(_insert(model.__table__).on_conflict_do_nothing(),
                               {"relay_id": relay_id, "beneficiary_id": beneficiary_id, span.column: span.first_day(day)})


def unserved(relay_id: int, day: date, beneficiary_id: int, session_id: int) -> None:
    """A present mark at a session withdrawn (or moved away from `day`): the person was not at the
    relay's workshops that day unless another present mark says so, nor served by the relay that day
    unless a sale says so too."""
    from ..sales.models import Sale
    from ..workshops.models import Attendance, WorkshopSession

    other_mark = (select(Attendance.id).join(WorkshopSession, WorkshopSession.id == Attendance.session_id)
                  .where(Attendance.beneficiary_id == beneficiary_id, Attendance.status == "present",
                         Attendance.session_id != session_id, WorkshopSession.relay_id == relay_id,
                         WorkshopSession.day == day))
    if db.session.scalar(other_mark.limit(1)) is not None:
        return
    _withdraw("participants", relay_id, day, beneficiary_id)
    start, end = day_bounds(day)
    sale = select(Sale.id).where(Sale.beneficiary_id == beneficiary_id, Sale.relay_id == relay_id,
                                 Sale.voids_sale_id.is_(None), Sale.created_at >= start, Sale.created_at < end)
    if db.session.scalar(sale.limit(1)) is None:
        _withdraw("people", relay_id, day, beneficiary_id)


def _withdraw(kind: str, relay_id: int, day: date, beneficiary_id: int) -> None:
    """Take the person off the relay's day in the tables of `kind` ("people" served, or workshop
    "participants"); off its month too unless they are on another of its days; off its year unless
    they are in another of its months."""
    def where(span, first: date, after: date):
        model = getattr(span, kind)
        when = getattr(model, span.column)
        return (model.relay_id == relay_id, model.beneficiary_id == beneficiary_id, when >= first, when < after)

    for span, shorter in ((DAY, None), (MONTH, DAY), (YEAR, MONTH)):
        first = span.first_day(day)
        if shorter and db.session.scalar(select(getattr(shorter, kind).relay_id)
                                         .where(*where(shorter, first, span.following(first))).limit(1)):
            return
        db.session.execute(delete(getattr(span, kind)).where(*where(span, first, span.following(first))))


def _insert(table):
    dialect = postgresql if db.session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


_ADDING = {}  # (dialect, table) → its upsert: built once, it is compiled once and run for every row


def _adding(table):
    """INSERT a figure's row, or add its count and amount to the row already there."""
    key = (db.session.get_bind().dialect.name, table.name)
    if key not in _ADDING:
        statement = _insert(table)
        _ADDING[key] = statement.on_conflict_do_update(
            index_elements=list(table.primary_key.columns.keys()),
            set_={"count": table.c.count + statement.excluded["count"],
                  "amount_cents": table.c.amount_cents + statement.excluded["amount_cents"]})
    return _ADDING[key]
