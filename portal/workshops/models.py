"""Free digital-skills workshops: parcours (programmes), their sessions, who is enrolled, who came."""
from datetime import date, datetime, time

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db

# One list of digital-skills themes for parcours, reports and certificates (code → French label).
# Close to the skills French digital-inclusion programmes assess (Pix, Aidants Connect): a label
# reads well on an attendance certificate.
THEMES = {
    "computer": "Prise en main de l'ordinateur",
    "smartphone": "Prise en main du smartphone",
    "web": "Navigation sur internet",
    "email": "Messagerie électronique (e-mail)",
    "documents": "Documents numériques (scanner, envoyer une pièce)",
    "procedures": "Démarches administratives en ligne",
    "security": "Sécurité et données personnelles",
    "messaging": "Appels vidéo et messageries",
    "office": "Bureautique (texte, tableur)",
    "job_search": "Recherche d'emploi en ligne",
}
LEVELS = {"beginner": "Débutant", "intermediate": "Intermédiaire", "advanced": "Avancé"}
ATTENDANCE = {"present": "Présent·e", "absent": "Absent·e", "excused": "Excusé·e"}


class Parcours(db.Model):
    """A programme of free sessions organised by one relay (or by the territory's mobile team)."""

    __table_args__ = (
        CheckConstraint(f"level IN {tuple(LEVELS)}", name="level_known"),
        CheckConstraint("planned_sessions > 0", name="planned_sessions_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), index=True)  # the organiser
    title: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(String(1000), default="")
    level: Mapped[str] = mapped_column(String(20), default="beginner")
    themes: Mapped[str] = mapped_column(String(200), default="")  # THEMES codes, comma-separated
    planned_sessions: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    active: Mapped[bool] = mapped_column(default=True)

    relay = relationship("Relay")
    sessions: Mapped[list["WorkshopSession"]] = relationship(
        back_populates="parcours", order_by="[WorkshopSession.day, WorkshopSession.start_time]")

    @property
    def theme_codes(self) -> list[str]:
        return [code for code in (self.themes or "").split(",") if code]

    @property
    def theme_labels(self) -> list[str]:
        codes = set(self.theme_codes)
        return [label for code, label in THEMES.items() if code in codes]

    @property
    def level_label(self) -> str:
        return LEVELS.get(self.level, self.level)


class WorkshopSession(db.Model):
    """One session of a parcours, anywhere in the valleys.

    relay_id is the parcours's organiser (it scopes the session); host_relay_id is the relay whose
    people attend: the same relay for its own workshops, the relay a mobile team works for
    otherwise. Day and start time are the local (Europe/Paris) wall-clock time of an appointment,
    not an instant: they are stored as planned."""

    __table_args__ = (
        Index("ix_workshop_session_relay_day", "relay_id", "day"),
        Index("ix_workshop_session_host_day", "host_relay_id", "day"),
        CheckConstraint("duration_minutes > 0", name="duration_positive"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("laptops_planned >= 0", name="laptops_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    parcours_id: Mapped[int] = mapped_column(ForeignKey("parcours.id"), index=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    host_relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    day: Mapped[date]
    start_time: Mapped[time]
    duration_minutes: Mapped[int]
    commune: Mapped[str] = mapped_column(String(80))
    venue: Mapped[str] = mapped_column(String(120))
    facilitator_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"), index=True)
    capacity: Mapped[int]
    laptops_planned: Mapped[int] = mapped_column(default=0)
    notes: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    parcours: Mapped[Parcours] = relationship(back_populates="sessions")
    relay = relationship("Relay", foreign_keys=[relay_id])
    host_relay = relationship("Relay", foreign_keys=[host_relay_id])
    facilitator = relationship("User")


class Enrolment(db.Model):
    """A person enrolled in a parcours: they are expected at its sessions held for their relay."""

    __table_args__ = (UniqueConstraint("parcours_id", "beneficiary_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    parcours_id: Mapped[int] = mapped_column(ForeignKey("parcours.id"))
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), index=True)
    enrolled_at: Mapped[datetime] = mapped_column(default=utcnow)
    enrolled_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    parcours: Mapped[Parcours] = relationship()
    beneficiary = relationship("Beneficiary")


class Attendance(db.Model):
    """Whether an enrolled person came to a session; marked on the day or entered afterwards."""

    __table_args__ = (
        UniqueConstraint("session_id", "beneficiary_id"),
        CheckConstraint(f"status IN {tuple(ATTENDANCE)}", name="status_known"),
        Index("ix_attendance_session_status", "session_id", "status", "beneficiary_id"),  # people present
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("workshop_session.id"))
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("beneficiary.id"), index=True)
    status: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    session: Mapped[WorkshopSession] = relationship()
    beneficiary = relationship("Beneficiary")

    @property
    def status_label(self) -> str:
        return ATTENDANCE[self.status]
