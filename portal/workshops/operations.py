"""Writing workshops: parcours and sessions, enrolment within the places left, attendance marks."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, inspect, select

from .. import clock
from ..audit.operations import record_event
from ..beneficiaries.models import Beneficiary
from ..beneficiaries.operations import create_beneficiary, touch
from ..clock import utcnow
from ..database import write_transaction
from ..errors import Refused
from ..extensions import db
from ..reports.operations import count_attendance, count_session_change
from .models import ATTENDANCE, Attendance, Enrolment, Parcours, WorkshopSession
from .queries import places_left

# The fields a duplicated session takes from its model.
COPIED_FIELDS = ("parcours_id", "relay_id", "host_relay_id", "start_time", "duration_minutes", "commune",
                 "venue", "facilitator_id", "capacity", "laptops_planned", "notes")


def save_parcours(parcours: Parcours, user) -> None:
    """Insert or update a parcours of the user's relay (already filled in from its form)."""
    parcours.relay_id = parcours.relay_id or user.relay_id
    db.session.add(parcours)
    db.session.flush()
    record_event("parcours.save", subject=f"parcours:{parcours.id}", detail=parcours.title, actor=user)
    db.session.commit()


def save_session(session: WorkshopSession, parcours: Parcours, user) -> None:
    """Insert or update a session of the parcours (already filled in from its form)."""
    counted = _as_counted(session)
    session.parcours, session.relay_id = parcours, parcours.relay_id  # scoped to the organiser
    db.session.add(session)
    db.session.flush()
    if counted and counted != (session.day, session.duration_minutes):
        count_session_change(session, *counted)  # its present marks move with it in the reports
    record_event("workshop_session.save", subject=f"workshop_session:{session.id}",
                 detail=f"{session.day.isoformat()} {session.commune}", actor=user)
    db.session.commit()


def _as_counted(session: WorkshopSession) -> tuple | None:
    """(day, duration) of an existing session as its present marks were counted, before this edit."""
    state = inspect(session)
    if not state.persistent:
        return None

    def before(name: str):
        changed = state.attrs[name].history.deleted
        return changed[0] if changed else getattr(session, name)

    return before("day"), before("duration_minutes")


def duplicate_session(session: WorkshopSession, user) -> WorkshopSession:
    """The next session of a recurring workshop: the same one, a week later."""
    copy = WorkshopSession(day=session.day + timedelta(days=7),
                           **{name: getattr(session, name) for name in COPIED_FIELDS})
    db.session.add(copy)
    db.session.flush()
    record_event("workshop_session.duplicate", subject=f"workshop_session:{copy.id}",
                 detail=f"copie de workshop_session:{session.id}", actor=user)
    db.session.commit()
    return copy


def enrol(parcours: Parcours, beneficiary_id: int, host_relay_id: int, user) -> Beneficiary:
    """Enrol a person of the host relay in the parcours, if there is a place left."""
    with write_transaction():
        _lock(parcours)
        person = db.session.get(Beneficiary, beneficiary_id)
        if person is None or person.relay_id != host_relay_id or person.anonymised_at:
            raise Refused("Personne introuvable parmi les personnes de cette structure.")
        if _enrolment(parcours.id, person.id):
            raise Refused(f"{person.full_name} est déjà inscrit·e à ce parcours.")
        _check_places(parcours, host_relay_id)
        db.session.add(Enrolment(parcours_id=parcours.id, beneficiary_id=person.id, enrolled_by_id=user.id))
        touch(person)
        record_event("enrolment.add", subject=f"parcours:{parcours.id}", detail=f"beneficiary:{person.id}",
                     actor=user)
        return person


def enrol_new_person(parcours: Parcours, person: Beneficiary, host_relay_id: int, user) -> Beneficiary:
    """Create a person of the host relay and enrol them, in one transaction (or neither)."""
    with write_transaction():
        _lock(parcours)
        _check_places(parcours, host_relay_id)
        person.notice_given_on = clock.today()
        person.notice_version = current_app.config["NOTICE_VERSION"]
        # The enrolment waits for the person's insert: create_beneficiary flushes both and commits
        # them, which leaves nothing for the block's own commit.
        with db.session.no_autoflush:
            db.session.add(Enrolment(parcours_id=parcours.id, beneficiary=person, enrolled_by_id=user.id))
            record_event("enrolment.add", subject=f"parcours:{parcours.id}", detail="nouvelle fiche", actor=user)
            create_beneficiary(person, user, host_relay_id)
        return person


def unenrol(parcours: Parcours, beneficiary_id: int, user) -> None:
    """Remove a person from a parcours, with their absent/excused marks; not once they attended."""
    with write_transaction():
        enrolment = _enrolment(parcours.id, beneficiary_id)
        if enrolment is None:
            raise Refused("Cette personne n'est pas inscrite à ce parcours.")
        session_ids = select(WorkshopSession.id).where(WorkshopSession.parcours_id == parcours.id)
        marks = select(Attendance).where(Attendance.beneficiary_id == beneficiary_id,
                                         Attendance.session_id.in_(session_ids))
        if db.session.scalar(marks.where(Attendance.status == "present").limit(1)):
            raise Refused(f"{enrolment.beneficiary.full_name} a déjà assisté à une séance : "
                          "l'inscription reste, pour son attestation.")
        db.session.execute(delete(Attendance).where(Attendance.beneficiary_id == beneficiary_id,
                                                    Attendance.session_id.in_(session_ids)))
        db.session.delete(enrolment)
        record_event("enrolment.remove", subject=f"parcours:{parcours.id}", detail=f"beneficiary:{beneficiary_id}",
                     actor=user)


def record_attendance(session: WorkshopSession, person: Beneficiary, status: str, user) -> None:
    """Mark a person of the session's sheet present, absent or excused (again: the last mark wins)."""
    if status not in ATTENDANCE:
        raise Refused("Choisissez présent·e, absent·e ou excusé·e.")
    if status != "excused" and session.day > clock.today():
        raise Refused("La séance n'a pas encore eu lieu : seule une absence excusée peut être notée.")
    with write_transaction():
        # Marks of one session take turns: two first clicks for one person make one row.
        db.session.execute(select(WorkshopSession.id).where(WorkshopSession.id == session.id).with_for_update())
        mark = db.session.scalar(select(Attendance).where(Attendance.session_id == session.id,
                                                          Attendance.beneficiary_id == person.id))
        values = {"status": status, "recorded_at": utcnow(), "recorded_by_id": user.id}
        count_attendance(session, person.id, mark.status if mark else None, status)
        if mark is None:
            db.session.add(Attendance(session_id=session.id, beneficiary_id=person.id, **values))
        else:
            for name, value in values.items():
                setattr(mark, name, value)
        touch(person)


def _lock(parcours: Parcours) -> None:
    """Enrolments of one parcours take turns (row lock; SQLite holds the write lock already)."""
    db.session.execute(select(Parcours.id).where(Parcours.id == parcours.id).with_for_update())


def _enrolment(parcours_id: int, beneficiary_id: int) -> Enrolment | None:
    return db.session.scalar(select(Enrolment).where(Enrolment.parcours_id == parcours_id,
                                                     Enrolment.beneficiary_id == beneficiary_id))


def _check_places(parcours: Parcours, host_relay_id: int) -> None:
    if places_left(parcours.id, host_relay_id) == 0:
        raise Refused("Le parcours est complet : plus aucune place dans ses séances. "
                      "Augmentez le nombre de places d'une séance, ou désinscrivez quelqu'un.")
