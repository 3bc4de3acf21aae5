"""Cash sessions: opened with a counted float, closed with expected vs counted per payment method,
immutable and sealed once closed; the bank deposits taken out of the till while one is open."""
from datetime import date, datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db

MIGRATED_FORMAT = 1  # closings of the days before sessions existed: their payload as it was sealed
PAYLOAD_FORMAT = 2  # the sealed payload names each method


class CashSession(db.Model):
    """The till of one relay from its opening to its closing. Several a day are normal; at most
    one is open per relay. Once closed it is sealed in the ledger and never changed."""

    __table_args__ = (
        # One open session per relay, enforced by the database (also under concurrent opens).
        Index("uq_cash_session_open", "relay_id", unique=True, sqlite_where=text("closed_at IS NULL"),
              postgresql_where=text("closed_at IS NULL")),
        Index("ix_cash_session_relay_day", "relay_id", "day"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))  # None: migrated
    opening_float_cents: Mapped[int] = mapped_column(default=0)
    carried_from_id: Mapped[int | None] = mapped_column(ForeignKey("cash_session.id"))  # its counted cash
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    day: Mapped[date | None]  # the local day of the closing: the reports count closings per day
    cash_detail: Mapped[str] = mapped_column(Text, default="")  # notes and coins counted, JSON
    difference_reason: Mapped[str] = mapped_column(String(300), default="")
    sales_count: Mapped[int] = mapped_column(default=0)
    first_number: Mapped[str] = mapped_column(String(30), default="")
    last_number: Mapped[str] = mapped_column(String(30), default="")
    total_cents: Mapped[int] = mapped_column(default=0)
    grand_total_cents: Mapped[int] = mapped_column(default=0)  # running total since the first sale
    payload_format: Mapped[int] = mapped_column(default=PAYLOAD_FORMAT)

    relay = relationship("Relay")
    opened_by = relationship("User", foreign_keys=[opened_by_id])
    closed_by = relationship("User", foreign_keys=[closed_by_id])
    carried_from = relationship("CashSession", remote_side=[id])
    counts: Mapped[list["CashCount"]] = relationship(back_populates="session", order_by="CashCount.id")
    deposits: Mapped[list["BankDeposit"]] = relationship(back_populates="session", order_by="BankDeposit.id")

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

    def differences(self) -> dict[str, int]:
        """Counted − expected, in cents, for each method where they differ."""
        gaps = {count.method: count.counted_cents - count.expected_cents for count in self.counts}
        return {method: gap for method, gap in gaps.items() if gap}


class CashCount(db.Model):
    """What one payment method should have brought to a closed session, and what was counted."""

    __table_args__ = (UniqueConstraint("session_id", "method"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("cash_session.id"))
    method: Mapped[str] = mapped_column(String(10))
    expected_cents: Mapped[int] = mapped_column(default=0)
    counted_cents: Mapped[int] = mapped_column(default=0)

    session: Mapped[CashSession] = relationship(back_populates="counts")


class BankDeposit(db.Model):
    """Cash taken out of an open session's till to the bank, with the deposit slip's number."""

    __table_args__ = (CheckConstraint("amount_cents > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("cash_session.id"), index=True)
    amount_cents: Mapped[int]
    slip_number: Mapped[str] = mapped_column(String(40))
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    session: Mapped[CashSession] = relationship(back_populates="deposits")
    recorded_by = relationship("User")
