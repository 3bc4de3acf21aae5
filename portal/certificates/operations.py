"""Issuing attendance certificates from the present marks, counting their prints, finding them."""
import json
import re
import secrets
import unicodedata
from datetime import date

from sqlalchemy import func, select, update
from sqlalchemy.orm import joinedload

from ..audit.operations import record_event
from ..beneficiaries.models import Beneficiary
from ..clock import local_day, utcnow
from ..database import write_transaction
from ..errors import Refused
from ..extensions import db
from ..workshops.models import Attendance, Enrolment, Parcours, WorkshopSession
from .models import Certificate

# No look-alikes (0/O, 1/I/L): a code is read off paper and typed by hand.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 10
NO_ATTENDANCE = "{name} n'a encore assisté à aucune séance de ce parcours : pas d'attestation possible."
NOBODY = "Personne n'a encore assisté à une séance de ce parcours : aucune attestation à établir."
ANONYMISED = "Cette fiche a été anonymisée : plus d'attestation possible."
# What a new certificate would say differently without certifying anything new.
ISSUE_FACTS = ("place", "issued_on")


def issue_certificate(parcours: Parcours, person: Beneficiary, user) -> Certificate:
    """The person's certificate for what they attended: the latest one while the facts are the same,
    a new one otherwise."""
    with write_transaction():
        _lock(parcours)
        if person.anonymised_at:
            raise Refused(ANONYMISED)
        sessions = _attended_sessions(parcours.id, person.id).get(person.id)
        if not sessions:
            raise Refused(NO_ATTENDANCE.format(name=person.full_name))
        certificate = _issue(parcours, person, sessions, latest_certificates(parcours.id, [person.id]), user)
        return certificate


def issue_group(parcours: Parcours, user) -> list[Certificate]:
    """The certificate of every person enrolled who attended at least one session, in one transaction."""
    with write_transaction():
        _lock(parcours)
        people = db.session.scalars(
            select(Beneficiary).join(Enrolment, Enrolment.beneficiary_id == Beneficiary.id)
            .where(Enrolment.parcours_id == parcours.id, Beneficiary.anonymised_at.is_(None))
            .order_by(Beneficiary.last_key, Beneficiary.first_key, Beneficiary.id)).all()
        attended = _attended_sessions(parcours.id)
        people = [person for person in people if attended.get(person.id)]
        if not people:
            raise Refused(NOBODY)
        latest = latest_certificates(parcours.id, [person.id for person in people])
        certificates = [_issue(parcours, person, attended[person.id], latest, user) for person in people]
        return certificates


def record_prints(certificates: list[Certificate], user) -> None:
    """Count one more print of each certificate (after it was rendered), in the audit log too."""
    ids = [certificate.id for certificate in certificates]
    with write_transaction():
        for certificate_id in ids:
            prints = db.session.scalar(update(Certificate).where(Certificate.id == certificate_id)
                                       .values(prints=Certificate.prints + 1).returning(Certificate.prints))
            record_event("certificate.print", subject=f"certificate:{certificate_id}", detail=f"impression {prints}",
                         actor=user)


def latest_certificates(parcours_id: int, beneficiary_ids: list[int] | None = None) -> dict[int, Certificate]:
    """The latest certificate of each person for a parcours, by person id."""
    latest = select(func.max(Certificate.id)).where(Certificate.parcours_id == parcours_id)
    if beneficiary_ids is not None:
        latest = latest.where(Certificate.beneficiary_id.in_(beneficiary_ids))
    certificates = db.session.scalars(select(Certificate).where(
        Certificate.id.in_(latest.group_by(Certificate.beneficiary_id))))
    return {certificate.beneficiary_id: certificate for certificate in certificates}


def printable_group(parcours: Parcours) -> list[Certificate]:
    """The latest certificate of each person enrolled in the parcours and not anonymised, by name."""
    latest = latest_certificates(parcours.id)
    people = db.session.scalars(
        select(Beneficiary).join(Enrolment, Enrolment.beneficiary_id == Beneficiary.id)
        .where(Enrolment.parcours_id == parcours.id, Beneficiary.anonymised_at.is_(None),
               Beneficiary.id.in_(list(latest) or [0]))
        .order_by(Beneficiary.last_key, Beneficiary.first_key, Beneficiary.id)).all()
    return [latest[person.id] for person in people]


def enrolled_person(parcours: Parcours, beneficiary_id: int) -> Beneficiary | None:
    """The person if enrolled in the parcours."""
    return db.session.scalar(select(Beneficiary).join(Enrolment, Enrolment.beneficiary_id == Beneficiary.id)
                             .where(Enrolment.parcours_id == parcours.id, Beneficiary.id == beneficiary_id))


def person_certificates(beneficiary_id: int) -> list[Certificate]:
    """A person's certificates, latest first."""
    return db.session.scalars(select(Certificate).options(joinedload(Certificate.parcours))
                              .where(Certificate.beneficiary_id == beneficiary_id)
                              .order_by(Certificate.id.desc())).all()


def find_by_code(typed: str) -> Certificate | None:
    """The certificate whose verification code was typed (any case, spaces or dashes)."""
    code = normalise_code(typed)
    return db.session.scalar(select(Certificate).where(Certificate.code == code)) if code else None


def normalise_code(typed: str | None) -> str:
    """" abcde fghjk " or "ABCDE-FGHJK" → "ABCDE-FGHJK": what is stored and printed. Other input
    keeps its letters and digits only (it then matches nothing)."""
    kept = re.sub(r"[^A-Z0-9]", "", (typed or "").upper())[:2 * CODE_LENGTH]
    return f"{kept[:5]}-{kept[5:]}" if len(kept) == CODE_LENGTH else kept


def initials(first_name: str, last_name: str) -> str:
    """"Olena", "Shevchenko" → "O. S."; a letter of any script is taken as it is written."""
    letters = [_first_letter(name) for name in (first_name, last_name)]
    return " ".join(f"{letter}." for letter in letters if letter)


def _first_letter(name: str) -> str:
    for i, char in enumerate(name or ""):
        if char.isalpha():
            # With its combining marks, if any (a letter and its accent typed as two characters);
            # two at most, so that "X. Y." fits the column whatever was typed.
            end = i + 1
            while end < min(len(name), i + 3) and unicodedata.combining(name[end]):
                end += 1
            return unicodedata.normalize("NFC", name[i:end].upper())
    return ""


def _issue(parcours: Parcours, person: Beneficiary, sessions: list[WorkshopSession],
           latest: dict[int, Certificate], user) -> Certificate:
    """The latest certificate if it certifies these very facts, else a new one (flushed, not committed)."""
    at = utcnow()
    facts = _facts(parcours, sessions, local_day(at))
    previous = latest.get(person.id)
    if previous and _certified(previous.facts) == _certified(facts):
        return previous
    code = _new_code()
    certificate = Certificate(
        number=f"tmp-{code}", code=code, parcours_id=parcours.id, beneficiary_id=person.id,
        relay_id=parcours.relay_id, host_relay_id=person.relay_id, initials=initials(person.first_name, person.last_name),
        sessions_count=len(sessions), minutes=sum(s.duration_minutes for s in sessions),
        content=json.dumps(facts, ensure_ascii=False), issued_at=at, issued_by_id=user.id if user else None)
    db.session.add(certificate)
    db.session.flush()
    certificate.number = f"ATT-{local_day(at).year}-{certificate.id:05d}"
    record_event("certificate.issue", subject=f"certificate:{certificate.id}",
                 detail=f"parcours:{parcours.id} beneficiary:{person.id} {certificate.number}", actor=user)
    return certificate


def _facts(parcours: Parcours, sessions: list[WorkshopSession], issued_on: date) -> dict:
    """What the certificate says, as issued (plain JSON values)."""
    organiser = parcours.relay
    return {
        "parcours": {"title": parcours.title, "level": parcours.level_label, "themes": parcours.theme_labels},
        "sessions": [{"date": s.day.isoformat(), "start": s.start_time.strftime("%H:%M"),
                      "minutes": s.duration_minutes, "commune": s.commune, "venue": s.venue} for s in sessions],
        "facilitators": list(dict.fromkeys(s.facilitator.display_name for s in sessions)),
        "organiser": {"name": organiser.name, "town": organiser.town},
        "place": organiser.town,
        "issued_on": issued_on.isoformat(),
    }


def _certified(facts: dict) -> dict:
    return {key: value for key, value in facts.items() if key not in ISSUE_FACTS}


def _attended_sessions(parcours_id: int, beneficiary_id: int | None = None) -> dict[int, list[WorkshopSession]]:
    """The sessions of the parcours each person was marked present at (absent and excused never
    count), in date order, by person id."""
    query = (select(Attendance.beneficiary_id, WorkshopSession)
             .join(WorkshopSession, WorkshopSession.id == Attendance.session_id)
             .options(joinedload(WorkshopSession.facilitator))
             .where(WorkshopSession.parcours_id == parcours_id, Attendance.status == "present")
             .order_by(WorkshopSession.day, WorkshopSession.start_time, WorkshopSession.id))
    if beneficiary_id is not None:
        query = query.where(Attendance.beneficiary_id == beneficiary_id)
    attended: dict[int, list[WorkshopSession]] = {}
    for person_id, session in db.session.execute(query):
        attended.setdefault(person_id, []).append(session)
    return attended


def _new_code() -> str:
    while True:
        raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        code = f"{raw[:5]}-{raw[5:]}"
        if not db.session.scalar(select(Certificate.id).where(Certificate.code == code)):
            return code


def _lock(parcours: Parcours) -> None:
    """Issues for one parcours take turns: two clicks make one certificate (SQLite holds the write lock)."""
    db.session.execute(select(Parcours.id).where(Parcours.id == parcours.id).with_for_update())
