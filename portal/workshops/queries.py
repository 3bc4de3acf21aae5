"""Reading workshops: session lists, who is on a session's sheet, places left, what a person attended."""
from sqlalchemy import func, or_, select
from sqlalchemy.orm import joinedload

from ..beneficiaries.models import Beneficiary
from ..extensions import db
from ..relays.models import Relay
from ..security import scope_clause
from ..users.models import User
from .models import Attendance, Enrolment, Parcours, WorkshopSession


def sessions_list(upcoming: bool, today, facilitator_id: int | None = None, relay_id: int | None = None):
    """The sessions the current user may see, upcoming (soonest first) or past (latest first)."""
    query = (select(WorkshopSession).where(scope_clause(WorkshopSession))
             .options(joinedload(WorkshopSession.parcours), joinedload(WorkshopSession.facilitator),
                      joinedload(WorkshopSession.relay), joinedload(WorkshopSession.host_relay)))
    if upcoming:
        query = query.where(WorkshopSession.day >= today).order_by(
            WorkshopSession.day, WorkshopSession.start_time, WorkshopSession.id)
    else:
        query = query.where(WorkshopSession.day < today).order_by(
            WorkshopSession.day.desc(), WorkshopSession.start_time.desc(), WorkshopSession.id.desc())
    if facilitator_id:
        query = query.where(WorkshopSession.facilitator_id == facilitator_id)
    if relay_id:
        query = query.where(or_(WorkshopSession.relay_id == relay_id, WorkshopSession.host_relay_id == relay_id))
    return query


def visible_facilitators() -> list[User]:
    """Who facilitates the sessions the current user may see (the list's filter)."""
    ids = select(WorkshopSession.facilitator_id).where(scope_clause(WorkshopSession))
    return db.session.scalars(select(User).where(User.id.in_(ids)).order_by(User.display_name)).all()


def possible_facilitators(relay_id: int, current_id: int | None) -> list[User]:
    """The organiser's active accounts (and the session's facilitator, even deactivated since)."""
    return db.session.scalars(select(User).where(User.relay_id == relay_id, User.active | (User.id == current_id))
                              .order_by(User.display_name)).all()


def relays_to_host(organiser: Relay) -> list[Relay]:
    """Whose people a session may be for: the organiser's own; for a mobile team, the other
    active relays of its territory."""
    if not organiser.is_mobile_team:
        return [organiser]
    return db.session.scalars(select(Relay).where(
        Relay.territory_id == organiser.territory_id, Relay.active, Relay.is_mobile_team.is_(False))
        .order_by(Relay.name)).all()


def host_relay_ids(parcours: Parcours) -> list[int]:
    """The relays whose people may join the parcours: its organiser, or for a mobile team the
    relays its sessions are held for."""
    if not parcours.relay.is_mobile_team:
        return [parcours.relay_id]
    return list(db.session.scalars(
        select(WorkshopSession.host_relay_id).where(WorkshopSession.parcours_id == parcours.id).distinct()))


def host_relays(parcours: Parcours) -> list[Relay]:
    ids = host_relay_ids(parcours)
    return db.session.scalars(select(Relay).where(Relay.id.in_(ids)).order_by(Relay.name)).all() if ids else []


def enrolled_count(parcours_id: int, host_relay_id: int) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Enrolment).join(Beneficiary)
        .where(Enrolment.parcours_id == parcours_id, Beneficiary.relay_id == host_relay_id))


def places_left(parcours_id: int, host_relay_id: int) -> int | None:
    """Places left for the host relay's people (the smallest capacity of the sessions held for
    them, less those enrolled); None while no session is planned for them."""
    capacity = db.session.scalar(select(func.min(WorkshopSession.capacity)).where(
        WorkshopSession.parcours_id == parcours_id, WorkshopSession.host_relay_id == host_relay_id))
    if capacity is None:
        return None
    return max(capacity - enrolled_count(parcours_id, host_relay_id), 0)


def sheet_people(session: WorkshopSession, beneficiary_id: int | None = None):
    """[(person, status or None)] of a session's sheet: the people of its host relay enrolled in
    its parcours, by name."""
    query = (select(Beneficiary, Attendance.status).join(Enrolment, Enrolment.beneficiary_id == Beneficiary.id)
             .outerjoin(Attendance, (Attendance.beneficiary_id == Beneficiary.id)
                        & (Attendance.session_id == session.id))
             .where(Enrolment.parcours_id == session.parcours_id, Beneficiary.relay_id == session.host_relay_id)
             .order_by(Beneficiary.last_key, Beneficiary.first_key, Beneficiary.id))
    if beneficiary_id is not None:
        query = query.where(Beneficiary.id == beneficiary_id)
    return db.session.execute(query).all()


def sheet_counts(rows) -> dict[str, int]:
    """How many people of a sheet are present, absent, excused, and not marked yet."""
    counts = {"present": 0, "absent": 0, "excused": 0, "unmarked": 0}
    for _, status in rows:
        counts[status or "unmarked"] += 1
    return counts


def _attended(parcours_filter):
    """(beneficiary_id, parcours_id, sessions attended, minutes attended) for present marks."""
    return (select(Attendance.beneficiary_id, WorkshopSession.parcours_id,
                   func.count(Attendance.id).label("sessions"),
                   func.sum(WorkshopSession.duration_minutes).label("minutes"))
            .join(WorkshopSession, WorkshopSession.id == Attendance.session_id)
            .where(Attendance.status == "present", parcours_filter)
            .group_by(Attendance.beneficiary_id, WorkshopSession.parcours_id))


def parcours_people(parcours: Parcours):
    """[(person, sessions attended, minutes attended)] of the people enrolled in a parcours."""
    attended = _attended(WorkshopSession.parcours_id == parcours.id).subquery()
    return db.session.execute(
        select(Beneficiary, func.coalesce(attended.c.sessions, 0), func.coalesce(attended.c.minutes, 0))
        .join(Enrolment, Enrolment.beneficiary_id == Beneficiary.id)
        .outerjoin(attended, attended.c.beneficiary_id == Beneficiary.id)
        .where(Enrolment.parcours_id == parcours.id)
        .order_by(Beneficiary.last_key, Beneficiary.first_key, Beneficiary.id)).all()


def sessions_attendance(session_ids: list[int]) -> dict[int, int]:
    """Number of people marked present, per session id."""
    if not session_ids:
        return {}
    return dict(db.session.execute(
        select(Attendance.session_id, func.count()).where(
            Attendance.session_id.in_(session_ids), Attendance.status == "present")
        .group_by(Attendance.session_id)).all())


def session_marked(session_id: int) -> bool:
    """Someone was marked present or absent at the session (an excused absence can come ahead)."""
    return db.session.scalar(select(Attendance.id).where(Attendance.session_id == session_id,
                                                         Attendance.status != "excused").limit(1)) is not None


def sessions_enrolled(sessions: list[WorkshopSession]) -> dict[int, int]:
    """Number of people expected (enrolled from the host relay), per session id."""
    pairs = {(s.parcours_id, s.host_relay_id) for s in sessions}
    if not pairs:
        return {}
    counts = dict(((parcours_id, relay_id), n) for parcours_id, relay_id, n in db.session.execute(
        select(Enrolment.parcours_id, Beneficiary.relay_id, func.count()).join(Beneficiary)
        .where(Enrolment.parcours_id.in_({p for p, _ in pairs}))
        .group_by(Enrolment.parcours_id, Beneficiary.relay_id)).all())
    return {s.id: counts.get((s.parcours_id, s.host_relay_id), 0) for s in sessions}


def person_workshops(beneficiary_id: int):
    """A person's parcours with what they attended, and their marked sessions, latest first."""
    attended = _attended(Attendance.beneficiary_id == beneficiary_id).subquery()
    parcours = db.session.execute(
        select(Enrolment, func.coalesce(attended.c.sessions, 0), func.coalesce(attended.c.minutes, 0))
        .options(joinedload(Enrolment.parcours))
        .outerjoin(attended, attended.c.parcours_id == Enrolment.parcours_id)
        .where(Enrolment.beneficiary_id == beneficiary_id).order_by(Enrolment.enrolled_at.desc())).all()
    marks = db.session.scalars(
        select(Attendance).join(WorkshopSession, WorkshopSession.id == Attendance.session_id)
        .options(joinedload(Attendance.session).joinedload(WorkshopSession.parcours))
        .where(Attendance.beneficiary_id == beneficiary_id)
        .order_by(WorkshopSession.day.desc(), WorkshopSession.start_time.desc())).all()
    return parcours, marks
