"""Reading the report figures: per relay over any period, from the daily and monthly rows (never
from the sales), plus the few small tables a report also counts (sessions, certificates, closings)."""
from dataclasses import dataclass, field, fields
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import aliased

from ..cash.models import CashClosing
from ..cash.operations import COUNTED_METHODS
from ..catalogue.models import DEVICE_CATEGORIES
from ..certificates.models import Certificate
from ..database import day_bounds
from ..extensions import db
from ..relays.models import Relay
from ..sales.operations import local_today
from ..sales.models import Sale
from ..workshops.models import Attendance, WorkshopSession
from .models import DailyActivity, MonthlyActivity, ServedPerson


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
        for name in (f.name for f in fields(self) if f.type is int):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for mine, theirs in ((self.categories, other.categories), (self.payments, other.payments)):
            for key, (count, cents) in theirs.items():
                mine.setdefault(key, [0, 0])
                mine[key][0] += count
                mine[key][1] += cents
        if other.last_activity and (not self.last_activity or other.last_activity > self.last_activity):
            self.last_activity = other.last_activity


def relay_figures(relay_ids: list[int], start: date, end: date) -> dict[int, Figures]:
    """The figures of each relay from `start` to `end` (both included)."""
    figures = {relay_id: Figures() for relay_id in relay_ids}
    if not relay_ids:
        return figures
    for relay_id, figure, key, count, cents in _activity(relay_ids, start, end):
        _apply(figures[relay_id], figure, key, count, cents)
    for relay_id, served in _distinct(ServedPerson, relay_ids, start, end):
        figures[relay_id].served = served
    for relay_id, count, people in _workshops(relay_ids, start, end):
        figures[relay_id].sessions, figures[relay_id].participants = count, people
    for relay_id, count in _certificates(relay_ids, start, end):
        figures[relay_id].certificates = count
    for relay_id, count, differences, gap in _closings(relay_ids, start, end):
        f = figures[relay_id]
        f.closings, f.closing_differences, f.closing_gap_cents = count, int(differences or 0), int(gap or 0)
    # One index search per relay for its last day (a GROUP BY would read all its days).
    last = (select(func.max(DailyActivity.day)).where(DailyActivity.relay_id == Relay.id, DailyActivity.day <= end)
            .correlate(Relay).scalar_subquery())
    for relay_id, day in db.session.execute(select(Relay.id, last).where(Relay.id.in_(relay_ids))):
        figures[relay_id].last_activity = day
    return figures


def _activity(relay_ids, start: date, end: date):
    """(relay, figure, key, count, cents) summed over the period: whole months from the monthly rows,
    the days before the first and after the last whole month from the daily rows."""
    first_month = start if start.day == 1 else _next_month(start)
    # Nothing is ever counted ahead of today (a sale, a person, a presence happen on their day): a
    # period that ends today takes its last month whole.
    whole_end = end >= local_today() or _next_month(end) - timedelta(days=1) == end
    after_last = _next_month(end) if whole_end else end.replace(day=1)
    columns = (DailyActivity.relay_id, DailyActivity.figure, DailyActivity.key, DailyActivity.count,
               DailyActivity.amount_cents)

    def days(first: date, last: date):  # each range its own index search
        return select(*columns).where(DailyActivity.relay_id.in_(relay_ids), DailyActivity.day >= first,
                                      DailyActivity.day <= last)

    if first_month >= after_last:  # no whole month
        parts = [days(start, end)]
    else:
        parts = [select(MonthlyActivity.relay_id, MonthlyActivity.figure, MonthlyActivity.key,
                        MonthlyActivity.count, MonthlyActivity.amount_cents)
                 .where(MonthlyActivity.relay_id.in_(relay_ids), MonthlyActivity.month >= first_month,
                        MonthlyActivity.month < after_last)]
        if start < first_month:
            parts.append(days(start, first_month - timedelta(days=1)))
        if after_last <= end:
            parts.append(days(after_last, end))
    rows = parts[0].union_all(*parts[1:]).subquery() if len(parts) > 1 else parts[0].subquery()
    return db.session.execute(
        select(rows.c.relay_id, rows.c.figure, rows.c.key, func.sum(rows.c.count), func.sum(rows.c.amount_cents))
        .group_by(rows.c.relay_id, rows.c.figure, rows.c.key)).all()


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _distinct(model, relay_ids, start: date, end: date):
    return db.session.execute(
        select(model.relay_id, func.count(model.beneficiary_id.distinct()))
        .where(model.relay_id.in_(relay_ids), model.day >= start, model.day <= end)
        .group_by(model.relay_id)).all()


def _workshops(relay_ids, start: date, end: date):
    """(relay, sessions held, distinct people present) of the sessions a relay organised."""
    present = and_(Attendance.session_id == WorkshopSession.id, Attendance.status == "present")
    return db.session.execute(
        select(WorkshopSession.relay_id, func.count(WorkshopSession.id.distinct()),
               func.count(Attendance.beneficiary_id.distinct()))
        .outerjoin(Attendance, present)
        .where(WorkshopSession.relay_id.in_(relay_ids), WorkshopSession.day >= start, WorkshopSession.day <= end)
        .group_by(WorkshopSession.relay_id)).all()


def _certificates(relay_ids, start: date, end: date):
    return db.session.execute(
        select(Certificate.relay_id, func.count())
        .where(Certificate.relay_id.in_(relay_ids), Certificate.issued_at >= day_bounds(start)[0],
               Certificate.issued_at < day_bounds(end)[1])
        .group_by(Certificate.relay_id)).all()


def _closings(relay_ids, start: date, end: date):
    gap = (func.abs(CashClosing.counted_cash_cents - CashClosing.expected_cash_cents)
           + func.abs(CashClosing.counted_card_cents - CashClosing.expected_card_cents)
           + func.abs(CashClosing.counted_cheque_cents - CashClosing.expected_cheque_cents))
    return db.session.execute(
        select(CashClosing.relay_id, func.count(), func.sum(func.cast(gap > 0, db.Integer)), func.sum(gap))
        .where(CashClosing.relay_id.in_(relay_ids), CashClosing.day >= start, CashClosing.day <= end)
        .group_by(CashClosing.relay_id)).all()


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
    differs = [getattr(CashClosing, f"counted_{m}_cents") != getattr(CashClosing, f"expected_{m}_cents")
               for m in COUNTED_METHODS]
    closings = db.session.scalars(
        select(CashClosing).where(CashClosing.relay_id == relay_id, CashClosing.day >= start,
                                  CashClosing.day <= end, or_(*differs))
        .order_by(CashClosing.day.desc()).limit(limit))
    rows = []
    for c in closings:
        gaps = {m: getattr(c, f"counted_{m}_cents") - getattr(c, f"expected_{m}_cents") for m in COUNTED_METHODS}
        rows.append({"day": c.day, "reason": c.difference_reason,
                     "differences": {method: gap for method, gap in gaps.items() if gap}})
    return rows
