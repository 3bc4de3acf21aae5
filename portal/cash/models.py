"""Daily cash closing: expected vs counted per payment method, immutable once closed."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db

# Counted at closing; free sales ("free") bring no money. The order of the forms and reports.
COUNTED_METHODS = ("cash", "card", "cheque")


class CashClosing(db.Model):
    """The closing of one relay's day. Written once, sealed in the ledger, never changed."""

    __table_args__ = (UniqueConstraint("relay_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    day: Mapped[date]  # local date (Europe/Paris)
    expected_cash_cents: Mapped[int] = mapped_column(default=0)
    expected_card_cents: Mapped[int] = mapped_column(default=0)
    expected_cheque_cents: Mapped[int] = mapped_column(default=0)
    counted_cash_cents: Mapped[int] = mapped_column(default=0)
    counted_card_cents: Mapped[int] = mapped_column(default=0)
    counted_cheque_cents: Mapped[int] = mapped_column(default=0)
    cash_detail: Mapped[str] = mapped_column(Text, default="")  # notes and coins counted, JSON
    difference_reason: Mapped[str] = mapped_column(String(300), default="")
    sales_count: Mapped[int] = mapped_column(default=0)
    first_number: Mapped[str] = mapped_column(String(30), default="")
    last_number: Mapped[str] = mapped_column(String(30), default="")
    day_total_cents: Mapped[int] = mapped_column(default=0)
    grand_total_cents: Mapped[int] = mapped_column(default=0)  # running total since the first sale
    closed_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    closed_at: Mapped[datetime] = mapped_column(default=utcnow)

    relay = relationship("Relay")
    closed_by = relationship("User")

    def differences(self) -> dict[str, int]:
        """Counted − expected, in cents, for each method where they differ."""
        gaps = {m: getattr(self, f"counted_{m}_cents") - getattr(self, f"expected_{m}_cents") for m in COUNTED_METHODS}
        return {method: gap for method, gap in gaps.items() if gap}
