"""Activity figures kept ready for the reports: per relay and local day, month and year, written by
the same transactions that record sales, voids, people, attendance and closings, so that a
dashboard sums a few rows instead of scanning the sales. A period is read as whole years, whole
months and the days left at its edges (queries.spans)."""
from datetime import date, timedelta
from typing import Callable, NamedTuple

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class DailyActivity(db.Model):
    """One figure of one relay on one local (Europe/Paris) day.

    figure / key: "sales" (count, amount), "voids" (count, amount < 0), "category"/<category>
    (units net of voids, amount), "payment"/<method> (payments, amount), "onboarded" (people),
    "present"/<""> (attendance marks present, amount_cents = minutes attended), "closing" (cash
    closings), "closing_gap" (closings with a difference, amount = the sum of the absolute
    differences)."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    figure: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_daily_activity_day", "day", "relay_id"),)


class MonthlyActivity(db.Model):
    """The same figures summed per month (`month` is its first day): a year is 12 rows a figure."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    figure: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)

    __table_args__ = (Index("ix_monthly_activity_month", "month", "relay_id"),)


class YearlyActivity(db.Model):
    """The same figures summed per year (`year` is its 1 January): ten years are 10 rows a figure."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    year: Mapped[date] = mapped_column(primary_key=True)
    figure: Mapped[str] = mapped_column(String(12), primary_key=True)
    key: Mapped[str] = mapped_column(String(20), primary_key=True, default="")
    count: Mapped[int] = mapped_column(BigInteger, default=0)
    amount_cents: Mapped[int] = mapped_column(BigInteger, default=0)


class ServedPerson(db.Model):
    """A person served by a relay on a day (a sale, or present at a workshop): distinct people over
    any period, without reading the sales. Holds ids only."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), primary_key=True)


class ServedMonth(db.Model):
    """A person served by a relay at least once in a month (its first day)."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), primary_key=True)


class ServedYear(db.Model):
    """A person served by a relay at least once in a year (its 1 January)."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    year: Mapped[date] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), primary_key=True)


class Participant(db.Model):
    """A person present at one of a relay's workshop sessions on a day: distinct participants over
    any period, without reading the attendance marks. Holds ids only."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), primary_key=True)


class ParticipantMonth(db.Model):
    """A person present at a relay's workshops at least once in a month (its first day)."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    month: Mapped[date] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), primary_key=True)


class ParticipantYear(db.Model):
    """A person present at a relay's workshops at least once in a year (its 1 January)."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    year: Mapped[date] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), primary_key=True)


class Span(NamedTuple):
    """A length of period: its figures, its people served, its workshop participants, the column
    holding its first day, the first day of the one that holds a day, and the first day of the next
    one."""

    figures: type
    people: type
    participants: type
    column: str
    first_day: Callable[[date], date]
    following: Callable[[date], date]


YEAR = Span(YearlyActivity, ServedYear, ParticipantYear, "year",
            lambda day: day.replace(month=1, day=1), lambda first: first.replace(year=first.year + 1))
MONTH = Span(MonthlyActivity, ServedMonth, ParticipantMonth, "month",
             lambda day: day.replace(day=1), lambda first: (first + timedelta(days=32)).replace(day=1))
DAY = Span(DailyActivity, ServedPerson, Participant, "day", lambda day: day, lambda first: first + timedelta(days=1))
SPANS = (YEAR, MONTH, DAY)  # longest first
