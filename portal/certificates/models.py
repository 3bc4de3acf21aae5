"""Attendance certificates ("attestations de suivi"): what was certified, to whom, and how to check it."""
import json
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class Certificate(db.Model):
    """A certificate issued to a person for a parcours. Never altered: when the attendance changes,
    a new certificate is issued and the earlier one stays true of its date.

    `content` is the certified facts as issued (JSON: parcours, themes, sessions attended with
    date and duration, facilitators, organiser, place of issue), so that a reprint says exactly
    what the first print said. The person's name is not copied here: it is read from their record
    when printing (and gone once they are anonymised); only their initials are kept, for the
    public verification page."""

    __table_args__ = (Index("ix_certificate_parcours_person", "parcours_id", "beneficiary_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)  # ATT-2026-00042
    code: Mapped[str] = mapped_column(String(16), unique=True)  # verification code, no look-alike letters
    parcours_id: Mapped[int] = mapped_column(ForeignKey("parcours.id"))
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), index=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), index=True)  # the parcours's organiser
    host_relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))  # the person's relay
    initials: Mapped[str] = mapped_column(String(12))
    sessions_count: Mapped[int]
    minutes: Mapped[int]
    content: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    prints: Mapped[int] = mapped_column(default=0)

    parcours = relationship("Parcours")
    beneficiary = relationship("Beneficiary")
    relay = relationship("Relay", foreign_keys=[relay_id])

    @property
    def facts(self) -> dict:
        return json.loads(self.content)
