"""Activity figures kept ready for the reports: per relay and local day, and per relay and month,
written by the same transactions that record sales, voids, people and attendance, so that a
dashboard sums a few rows instead of scanning the sales."""
from datetime import date

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from ..extensions import db


class DailyActivity(db.Model):
    """One figure of one relay on one local (Europe/Paris) day.

    figure / key: "sales" (count, amount), "voids" (count, amount < 0), "category"/<category>
    (units net of voids, amount), "payment"/<method> (payments, amount), "onboarded" (people),
    "present"/<""> (attendance marks present, amount_cents = minutes attended)."""

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


class ServedPerson(db.Model):
    """A person served by a relay on a day (a sale, or present at a workshop): distinct people over
    any period, without reading the sales. Holds ids only."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    day: Mapped[date] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), primary_key=True)
