"""The territory's fleet of laptops loaned to workshop participants, and each loan to a session."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db

# A laptop is "loaned" from the moment it is handed out for a session until its return is recorded.
LAPTOP_STATES = {"available": "Disponible", "loaned": "Prêté", "repair": "En réparation", "retired": "Réformé"}


class Laptop(db.Model):
    """One laptop of a territory's fleet (kept by its mobile team, lent to every relay's workshops)."""

    __table_args__ = (
        UniqueConstraint("territory_id", "tag"),
        CheckConstraint(f"state IN {tuple(LAPTOP_STATES)}", name="state_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    territory_id: Mapped[int] = mapped_column(ForeignKey("territory.id"), index=True)
    tag: Mapped[str] = mapped_column(String(20))  # the label stuck on the lid: PC-01
    model: Mapped[str] = mapped_column(String(80))
    serial: Mapped[str] = mapped_column(String(60), default="")
    state: Mapped[str] = mapped_column(String(10), default="available")
    notes: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    territory = relationship("Territory")

    @property
    def state_label(self) -> str:
        return LAPTOP_STATES[self.state]


class LaptopLoan(db.Model):
    """A laptop booked for a workshop session; handed out on the day, returned reset (or damaged)."""

    __table_args__ = (UniqueConstraint("session_id", "laptop_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("workshop_session.id"), index=True)
    laptop_id: Mapped[int] = mapped_column(ForeignKey("laptop.id"), index=True)
    booked_at: Mapped[datetime] = mapped_column(default=utcnow)
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    handed_out_at: Mapped[datetime | None]
    returned_at: Mapped[datetime | None]
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reset_done: Mapped[bool] = mapped_column(default=False)  # personal data wiped before the next loan
    damage: Mapped[str] = mapped_column(String(300), default="")

    laptop: Mapped[Laptop] = relationship()
    session = relationship("WorkshopSession")
