"""Plain-data context of a session's attendance sheet (émargement), printed for the day."""
from ..templating import local_date
from .forms import format_clock, format_duration
from .models import WorkshopSession
from .queries import sheet_people

BLANK_ROWS = 3  # for people who join on the day; they are enrolled in the portal afterwards


def attendance_sheet_context(session: WorkshopSession) -> dict:
    """What pdf/attendance_sheet.html prints: the session, and the people expected, by name."""
    parcours, organiser = session.parcours, session.relay
    number = next(i for i, s in enumerate(parcours.sessions, 1) if s.id == session.id)
    return {
        "page_size": "A4",
        "relay": {"name": organiser.name, "address": organiser.address, "town": organiser.town},
        "title": parcours.title,
        "number": number, "planned": max(parcours.planned_sessions, len(parcours.sessions)),
        "themes": parcours.theme_labels,
        "day": local_date(session.day, "EEEE d MMMM y"),
        "day_short": local_date(session.day, "dd/MM/y"),
        "start": format_clock(session.start_time),
        "duration": format_duration(session.duration_minutes),
        "place": f"{session.venue}, {session.commune}",
        "host": session.host_relay.name if session.host_relay_id != session.relay_id else None,
        "facilitator": session.facilitator.display_name,
        "people": [person.full_name for person, _ in sheet_people(session)],
        "blank_rows": BLANK_ROWS,
    }
