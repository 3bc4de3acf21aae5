"""The tamper-evident ledger: one hash chain per relay over sales, voids and closings."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..clock import utcnow
from ..extensions import db


class LedgerEntry(db.Model):
    """An entry of a relay's chain. Appended, never updated nor deleted."""

    __table_args__ = (UniqueConstraint("relay_id", "seq"), UniqueConstraint("kind", "ref_id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    seq: Mapped[int]  # 1, 2, 3… per relay
    kind: Mapped[str] = mapped_column(String(10))  # sale / void / closing
    ref_id: Mapped[int]  # the sale or closing it seals
    format_version: Mapped[int]
    payload: Mapped[str] = mapped_column(Text)  # canonical JSON of what it seals
    prev_mac: Mapped[str] = mapped_column(String(64))
    mac: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class LedgerHead(db.Model):
    """The last entry of each relay's chain: removing the last entry leaves the head pointing
    at nothing, which verification reports."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)
    last_mac: Mapped[str] = mapped_column(String(64), default="")
