"""Reading the report figures: per relay over any period, from the activity, people-served and
workshop-participant rows by year, month and day (never from the sales nor the attendance marks),
plus the small tables a report also counts (workshop sessions, certificates)."""
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import aliased

from .. import clock
from ..cash.models import CashCount, CashSession
from ..catalogue.models import DEVICE_CATEGORIES
from ..certificates.models import Certificate
from ..clock import day_bounds
from ..extensions import db
from ..relays.models import Relay
from ..sales.models import Sale
from ..workshops.models import WorkshopSession
from .models import SPANS, DailyActivity, MonthlyActivity, Span


@dataclass
class Figures:
    """A relay's (or a territory's) figures over one period. Amounts in cents, hours in minutes."""

    onboarded: int = 0
    served: int = 0
    sales: int = 0
    sales_cents: int = 0
    voids: int = 0
    voids_cents: int = 0
    categories: dict = field(default_factory=dict)  # category → [units, cents]
    payments: dict = field(default_factory=dict)  # method → [count, cents]
    present_marks: int = 0
    minutes: int = 0
    sessions: int = 0
    participants: int = 0
    certificates: int = 0
    closings: int = 0
    closing_differences: int = 0  # closings where something was missing or in excess
    closing_gap_cents: int = 0  # the sum of their absolute differences
    last_activity: date | None = None

    @property
    def free_sims(self) -> int:
        return self.categories.get("free_sim", [0, 0])[0]

    @property
    def devices(self) -> int:
        return sum(self.categories.get(c, [0, 0])[0] for c in DEVICE_CATEGORIES)

    @property
    def void_rate(self) -> float | None:
        return self.voids / self.sales if self.sales else None

    @property
    def net_cents(self) -> int:
        return self.sales_cents + self.voids_cents

    def add(self, other: "Figures") -> None:
        """Sum another relay's figures into these (people differ from one relay to another)."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.categories, other.categories), (self.payments, other.payments)):
            for key, (count, cents) in theirs.items():
                mine.setdefault(key, [0, 0])
                mine[key][0] += count
                mine[key][1] += cents
        if other.last_activity and (not self.last_activity or other.last_activity > self.last_activity):
            self.last_activity = other.last_activity


COUNTS = [f.name for f in fields(Figures) if f.type is int]  # what Figures.add sums


def relay_figures(relay_ids: list[int], start: date, end: date) -> dict[int, Figures]:
    """The figures of each relay from `start` to `end` (both included)."""
    figures = {relay_id: Figures() for relay_id in relay_ids}
    if not relay_ids:
        return figures
    pieces = split_period(start, end, open_end=end >= clock.today())
    for relay_id, figure, key, count, cents in _activity(relay_ids, pieces):
        _apply(figures[relay_id], figure, key, count, cents)
    for relay_id, kind, people in _people(relay_ids, pieces):
        setattr(figures[relay_id], "served" if kind == "people" else "participants", people)
    for relay_id, sessions, certificates, last in _per_relay(relay_ids, start, end):
        f = figures[relay_id]
        f.sessions, f.certificates, f.last_activity = sessions, certificates, last
    return figures


def split_period(start: date, end: date, open_end: bool, spans=SPANS) -> list[tuple[Span, date, date]]:
    """The period from `start` to `end` (included) as whole years, whole months and days:
    [(span, first day of the first one, first day of the last one)].

    `open_end`: nothing can be counted after `end` (it is today or later: a sale, a person, a
    presence or a closing happen on their day), so the year or month holding `end` counts whole."""
    span, shorter = spans[0], spans[1:]
    if not shorter:
        return [(span, start, end)]
    first = start if span.first_day(start) == start else span.following(span.first_day(start))
    after = span.following(span.first_day(end))
    if not open_end and after - timedelta(days=1) != end:
        after = span.first_day(end)  # the last one is not whole
    if first >= after:
        return split_period(start, end, open_end, shorter)
    pieces = [(span, first, span.first_day(after - timedelta(days=1)))]
    if start < first:
        pieces += split_period(start, first - timedelta(days=1), False, shorter)
    if after <= end:
        pieces += split_period(after, end, open_end, shorter)
    return pieces


def _piece_rows(model, columns, relay_ids, span: Span, first: date, last: date):
    when = getattr(model, span.column)
    return select(*columns).where(model.relay_id.in_(relay_ids), when >= first, when <= last)


def _union(parts):
    return parts[0].union_all(*parts[1:]).subquery() if len(parts) > 1 else parts[0].subquery()


def _activity(relay_ids, pieces):
    """(relay, figure, key, count, cents) summed over the pieces of the period."""
    rows = _union([
        _piece_rows(span.figures, (span.figures.relay_id, span.figures.figure, span.figures.key,
                                   span.figures.count, span.figures.amount_cents), relay_ids, span, first, last)
        for span, first, last in pieces])
    return db.session.execute(
        select(rows.c.relay_id, rows.c.figure, rows.c.key, func.sum(rows.c.count), func.sum(rows.c.amount_cents))
        .group_by(rows.c.relay_id, rows.c.figure, rows.c.key)).all()


def _people(relay_ids, pieces):
    """(relay, "people" or "participants", distinct people served or present at its workshops) over
    the pieces of the period, in one statement."""
    counts = []
    for kind in ("people", "participants"):
        parts = []
        for span, first, last in pieces:
            model = getattr(span, kind)
            parts.append(_piece_rows(model, (model.relay_id, model.beneficiary_id), relay_ids, span, first, last))
        rows = _union(parts)
        counts.append(select(rows.c.relay_id, literal(kind), func.count(rows.c.beneficiary_id.distinct()))
                      .group_by(rows.c.relay_id))
    return db.session.execute(union_all(*counts)).all()


def _per_relay(relay_ids, start: date, end: date):
    """(relay, workshop sessions it organised, certificates issued, last day with anything counted up
    to `end`): one index search per relay and figure (a GROUP BY would read all its days)."""
    def per_relay(statement):
        return statement.correlate(Relay).scalar_subquery()

    sessions = per_relay(select(func.count()).where(WorkshopSession.relay_id == Relay.id,
                                                    WorkshopSession.day >= start, WorkshopSession.day <= end))
    certificates = per_relay(select(func.count()).where(
        Certificate.relay_id == Relay.id, Certificate.issued_at >= day_bounds(start)[0],
        Certificate.issued_at < day_bounds(end)[1]))
    last = per_relay(select(func.max(DailyActivity.day)).where(DailyActivity.relay_id == Relay.id,
                                                               DailyActivity.day <= end))
    return db.session.execute(select(Relay.id, sessions, certificates, last).where(Relay.id.in_(relay_ids))).all()


def monthly_trend(relay_id: int, months: list[date]) -> dict[date, Figures]:
    """A relay's figures per month (first days given), from the monthly rows only."""
    trend = {month: Figures() for month in months}
    for month, figure, key, count, cents in db.session.execute(
            select(MonthlyActivity.month, MonthlyActivity.figure, MonthlyActivity.key, MonthlyActivity.count,
                   MonthlyActivity.amount_cents)
            .where(MonthlyActivity.relay_id == relay_id, MonthlyActivity.month.in_(months))):
        _apply(trend[month], figure, key, count, cents)
    return trend


def _apply(f: Figures, figure: str, key: str, count, cents) -> None:
    """Put one summed row of the activity tables into its place in the figures."""
    count, cents = int(count), int(cents)  # PostgreSQL sums big integers as numeric
    if figure == "category":
        f.categories[key] = [count, cents]
    elif figure == "payment":
        f.payments[key] = [count, cents]
    elif figure in ("sales", "voids", "present"):
        names = {"sales": ("sales", "sales_cents"), "voids": ("voids", "voids_cents"),
                 "present": ("present_marks", "minutes")}[figure]
        setattr(f, names[0], count)
        setattr(f, names[1], cents)
    elif figure == "onboarded":
        f.onboarded = count
    elif figure == "closing":
        f.closings = count
    elif figure == "closing_gap":
        f.closing_differences, f.closing_gap_cents = count, cents


# --- one relay's page: its trend, its recent voids and closing differences, its silence ------------

def last_months(today: date, count: int = 12) -> list[date]:
    """The first days of the `count` months up to today's, oldest first."""
    months = [today.replace(day=1)]
    while len(months) < count:
        months.append((months[-1] - timedelta(days=1)).replace(day=1))
    return months[::-1]


def last_activity(relay_id: int, today: date) -> date | None:
    """The relay's last day with anything counted (a sale, a void, a person, a presence) up to today."""
    return db.session.scalar(select(func.max(DailyActivity.day))
                             .where(DailyActivity.relay_id == relay_id, DailyActivity.day <= today))


def is_silent(last: date | None, today: date) -> bool:
    """Nothing counted for more than SILENT_DAYS days, or ever."""
    return last is None or (today - last).days > current_app.config["SILENT_DAYS"]


def recent_voids(relay_id: int, start: date, end: date, limit: int = 10) -> list:
    """The period's last voids, newest first: (number, voided_number, created_at, total_cents, reason).
    Receipts only: never the person they were for."""
    voided = aliased(Sale)
    return db.session.execute(
        select(Sale.number, voided.number.label("voided_number"), Sale.created_at, Sale.total_cents,
               Sale.void_reason.label("reason"))
        .join(voided, voided.id == Sale.voids_sale_id)
        .where(Sale.relay_id == relay_id, Sale.created_at >= day_bounds(start)[0],
               Sale.created_at < day_bounds(end)[1])
        .order_by(Sale.created_at.desc(), Sale.id.desc()).limit(limit)).all()


def closing_differences(relay_id: int, start: date, end: date, limit: int = 10) -> list[dict]:
    """The period's last closings where a counted amount differed from the expected one, newest
    first: {day, differences: {method: counted − expected}, reason}."""
    differs = select(CashCount.id).where(CashCount.session_id == CashSession.id,
                                         CashCount.counted_cents != CashCount.expected_cents).exists()
    closings = db.session.scalars(
        select(CashSession).where(CashSession.relay_id == relay_id, CashSession.day >= start,
                                  CashSession.day <= end, differs)
        .order_by(CashSession.closed_at.desc()).limit(limit))
    return [{"day": c.day, "reason": c.difference_reason, "differences": c.differences()} for c in closings]
