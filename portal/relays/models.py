"""Territories and the relays that belong to them."""
from datetime import datetime

from sqlalchemy import ForeignKey, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class Territory(db.Model):
    """A territory (a département) coordinated by one team."""

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    relays: Mapped[list["Relay"]] = relationship(
        back_populates="territory", order_by="Relay.name"
    )

    def __str__(self) -> str:
        return self.name


class Relay(db.Model):
    """A social structure that offers connection, equipment and digital skills."""

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), index=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    organisation: Mapped[str] = mapped_column(String(160), default="")
    town: Mapped[str] = mapped_column(String(80), default="")
    # Short code printed in receipt numbers: SPFGAP-2026-000123.
    code: Mapped[str] = mapped_column(String(12), unique=True)
    address: Mapped[str] = mapped_column(String(300), default="")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Printed on receipts, e.g. "Association loi 1901 non assujettie à la TVA (art. 261-7 CGI)".
    legal_mention: Mapped[str] = mapped_column(String(300), default="", server_default="")
    receipt_format: Mapped[str] = mapped_column(String(5), default="A5", server_default="A5")  # A5 or 80mm
    # The territory's mobile team: it holds workshops for the other relays' people (workshops/).
    is_mobile_team: Mapped[bool] = mapped_column(default=False, server_default=false())

    territory: Mapped[Territory] = relationship(back_populates="relays")

    def __str__(self) -> str:
        return self.name
