"""The people a relay serves: a minimal record, their eligibility, and what happened to it."""
from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db

# Byte order on PostgreSQL too, so that prefix ranges on search tokens use the index.
TOKEN = String(40).with_variant(String(40, collation="C"), "postgresql")


class Beneficiary(db.Model):
    """A person served by one relay. Anonymised, never deleted: counts and ledgers stay valid."""

    __table_args__ = (
        Index("ix_beneficiary_relay_names", "relay_id", "last_key", "first_key"),
        Index("ix_beneficiary_relay_phone", "relay_id", "phone"),
        Index("ix_beneficiary_relay_activity", "relay_id", "last_activity_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    code: Mapped[str] = mapped_column(String(8), unique=True)

    first_name: Mapped[str] = mapped_column(String(80))
    last_name: Mapped[str] = mapped_column(String(80))  # or an alias
    # Folded (no case, accents, spaces): what duplicate detection compares.
    first_key: Mapped[str] = mapped_column(String(80), default="")
    last_key: Mapped[str] = mapped_column(String(80), default="")
    phone: Mapped[str | None] = mapped_column(String(20))  # E.164
    email: Mapped[str | None] = mapped_column(String(254))
    birth_year: Mapped[int | None]
    languages: Mapped[str] = mapped_column(String(200), default="")
    commune: Mapped[str] = mapped_column(String(80), default="")
    notes: Mapped[str] = mapped_column(String(500), default="")

    # Eligibility: that it was checked, by whom, until when — never a copy of a document.
    eligibility_basis: Mapped[str] = mapped_column(String(20), default="")
    referrer_type: Mapped[str] = mapped_column(String(20), default="")
    referrer_name: Mapped[str] = mapped_column(String(120), default="")
    eligibility_verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    eligibility_verified_on: Mapped[date | None]
    eligibility_until: Mapped[date | None]
    eligibility_renewals: Mapped[int] = mapped_column(default=0)

    need_connection: Mapped[bool] = mapped_column(default=False)
    need_equipment: Mapped[bool] = mapped_column(default=False)
    need_skills: Mapped[bool] = mapped_column(default=False)
    # One "1"/"0" per self-assessment question (see forms.AUTONOMY_QUESTIONS).
    autonomy: Mapped[str] = mapped_column(String(8), default="")

    notice_given_on: Mapped[date | None]
    notice_version: Mapped[str] = mapped_column(String(20), default="")

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    last_activity_at: Mapped[datetime] = mapped_column(default=utcnow)
    anonymised_at: Mapped[datetime | None]

    relay = relationship("Relay")
    verified_by = relationship("User", foreign_keys=[eligibility_verified_by_id])
    events: Mapped[list["BeneficiaryEvent"]] = relationship(
        back_populates="beneficiary", order_by="BeneficiaryEvent.id.desc()"
    )

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def autonomy_level(self) -> int | None:
        """1 (no autonomy) to 4 (autonomous): one level per skill the person has."""
        return 1 + self.autonomy.count("1") if self.autonomy else None

    def eligibility_status(self, today: date, warning_days: int) -> str:
        """'none', 'valid', 'expiring' (within warning_days) or 'expired'."""
        if not self.eligibility_until:
            return "none"
        if self.eligibility_until < today:
            return "expired"
        if (self.eligibility_until - today).days <= warning_days:
            return "expiring"
        return "valid"


class BeneficiaryToken(db.Model):
    """One folded word of a person's names, for fast prefix search within a relay.

    It repeats the person's sort keys so that a search counts and orders its matches from the
    index alone, without reading each matching person (thousands for a common prefix)."""

    __table_args__ = (Index("ix_beneficiary_token_relay_token", "relay_id", "token", "last_key", "first_key",
                            "beneficiary_id"),)

    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), primary_key=True)
    token: Mapped[str] = mapped_column(TOKEN, primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    last_key: Mapped[str] = mapped_column(String(80), default="", server_default="")
    first_key: Mapped[str] = mapped_column(String(80), default="", server_default="")


class BeneficiaryEvent(db.Model):
    """The person's trail: created, which fields changed, renewals, exports, anonymisation.

    Only field names are kept, never old values: the trail must not outlive the data."""

    id: Mapped[int] = mapped_column(primary_key=True)
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), index=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    kind: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(String(300), default="")

    beneficiary: Mapped[Beneficiary] = relationship(back_populates="events")
    user = relationship("User")
