"""Workshops: parcours and their sessions, enrolment, the attendance sheet and its printed twin."""
from datetime import timedelta

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from .. import clock, htmx
from ..beneficiaries.forms import parse_phone
from ..beneficiaries.models import Beneficiary
from ..beneficiaries.queries import possible_duplicates, search
from ..errors import Refused
from ..extensions import db
from ..forms import record_id
from ..laptops.queries import session_laptops_context, slot_clash
from ..relays.models import Relay
from ..security import RELAY_ROLES, Role, get_scoped_or_404, no_store, roles_required, scoped
from . import documents, operations
from .forms import ParcoursForm, QuickPersonForm, SessionForm, format_clock, format_duration
from .models import ATTENDANCE, THEMES, Parcours, WorkshopSession
from .queries import (enrolled_count, host_relays, parcours_people, places_left, possible_facilitators,
                      relays_to_host, session_marked, sessions_attendance, sessions_enrolled, sessions_list, sheet_counts,
                      sheet_people, visible_facilitators)

bp = Blueprint("workshops", __name__, url_prefix="/workshops")

STAFF = (Role.VOLUNTEER, Role.MANAGER, Role.COORDINATOR, Role.ADMIN)
SESSIONS_PER_PAGE = 30
NO_HOST = "Planifiez d'abord une séance : elle dit pour quelle structure l'équipe mobile anime ce parcours."
bp.add_app_template_filter(format_duration, "duration")
bp.add_app_template_filter(format_clock, "clock")


bp.after_request(no_store)  # these pages name people


@bp.get("/")
@roles_required(*STAFF)
def index():
    upcoming = request.args.get("when") != "past"
    facilitator_id = request.args.get("facilitator", type=record_id)
    relay_id = None if current_user.works_in_relay else request.args.get("relay", type=record_id)
    relay = get_scoped_or_404(Relay, relay_id) if relay_id else None
    page = max(request.args.get("page", 1, type=record_id), 1)
    sessions = db.paginate(sessions_list(upcoming, clock.today(), facilitator_id, relay_id), page=page,
                           per_page=SESSIONS_PER_PAGE, error_out=False)
    ended = request.args.get("parcours") == "ended"
    parcours = db.session.scalars(scoped(Parcours).where(Parcours.active == (not ended))
                                  .order_by(Parcours.title, Parcours.id)).all()
    return htmx.render(
        "workshops/index.html", "sessions", sessions=sessions, upcoming=upcoming, relay=relay,
        facilitator_id=facilitator_id, facilitators=visible_facilitators(), parcours=parcours, ended=ended,
        relays=[] if current_user.works_in_relay else db.session.scalars(scoped(Relay).order_by(Relay.name)).all(),
        present=sessions_attendance([s.id for s in sessions.items]), enrolled=sessions_enrolled(sessions.items))


@bp.route("/parcours/new", methods=["GET", "POST"])
@bp.route("/parcours/<int:parcours_id>/edit", methods=["GET", "POST"])
@roles_required(*RELAY_ROLES)
def edit_parcours(parcours_id: int | None = None):
    parcours = get_scoped_or_404(Parcours, parcours_id) if parcours_id else Parcours(active=True)
    form = ParcoursForm(obj=parcours)
    if not form.is_submitted():
        form.themes.data = parcours.theme_codes
    if form.validate_on_submit():
        for name in ("title", "description", "level", "planned_sessions", "active"):
            setattr(parcours, name, form[name].data)
        parcours.themes = ",".join(code for code in THEMES if code in form.themes.data)
        operations.save_parcours(parcours, current_user)
        flash(f"Parcours « {parcours.title} » enregistré.", "success")
        return htmx.redirect_to(url_for("workshops.parcours", parcours_id=parcours.id))
    status = 422 if form.is_submitted() else 200
    return htmx.render("workshops/parcours_form.html", "form", form=form, parcours=parcours, status=status)


@bp.get("/parcours/<int:parcours_id>")
@roles_required(*RELAY_ROLES)
def parcours(parcours_id: int):
    parcours = get_scoped_or_404(Parcours, parcours_id)
    # The active search of the enrolment: a page, or only the people found.
    return htmx.render("workshops/parcours.html", "found", **_parcours_page(parcours, request.args))


@bp.post("/parcours/<int:parcours_id>/enrolments")
@roles_required(*RELAY_ROLES)
def enrol(parcours_id: int):
    parcours = get_scoped_or_404(Parcours, parcours_id)
    page = _parcours_page(parcours, request.form)
    if page["host"] is None:
        return _enrolment_refused(page, NO_HOST)
    try:
        person = operations.enrol(parcours, request.form.get("beneficiary_id", 0, type=record_id), page["host"].id,
                                  current_user)
    except Refused as refusal:
        return _enrolment_refused(page, refusal.message)
    flash(f"{person.full_name} est inscrit·e.", "success")
    return _enrolment_done(parcours, page)


@bp.post("/parcours/<int:parcours_id>/people")
@roles_required(*RELAY_ROLES)
def enrol_new(parcours_id: int):
    parcours = get_scoped_or_404(Parcours, parcours_id)
    form = QuickPersonForm()
    page = _parcours_page(parcours, request.form, form)
    if page["host"] is None:
        return _enrolment_refused(page, NO_HOST)
    if form.validate():
        phone = parse_phone(form.phone.data)
        page["duplicates"] = possible_duplicates(page["host"].id, form.first_name.data, form.last_name.data, phone)
        if page["duplicates"] and not form.confirm_duplicate.data:
            form.confirm_duplicate.errors.append("Si la personne a déjà sa fiche, cherchez-la ci-dessus pour "
                                                 "l'inscrire ; sinon cochez cette case.")
        else:
            person = Beneficiary(first_name=form.first_name.data, last_name=form.last_name.data, phone=phone)
            try:
                operations.enrol_new_person(parcours, person, page["host"].id, current_user)
            except Refused as refusal:
                return _enrolment_refused(page, refusal.message)
            flash(f"Fiche créée pour {person.full_name} — code {person.code} — et inscription faite.", "success")
            return _enrolment_done(parcours, page)
    return htmx.render("workshops/parcours.html", "enrolment", **page, status=422)


@bp.post("/parcours/<int:parcours_id>/enrolments/<int:beneficiary_id>/delete")
@roles_required(*RELAY_ROLES)
def unenrol(parcours_id: int, beneficiary_id: int):
    parcours = get_scoped_or_404(Parcours, parcours_id)
    try:
        operations.unenrol(parcours, beneficiary_id, current_user)
    except Refused as refusal:
        return _enrolment_refused(_parcours_page(parcours, request.form), refusal.message)
    flash("Inscription retirée.", "success")
    return _enrolment_done(parcours, _parcours_page(parcours, request.form))


@bp.route("/parcours/<int:parcours_id>/sessions/new", methods=["GET", "POST"])
@roles_required(*RELAY_ROLES)
def new_session(parcours_id: int):
    parcours = get_scoped_or_404(Parcours, parcours_id)
    return _session_form(parcours, _next_session(parcours))


@bp.route("/sessions/<int:session_id>/edit", methods=["GET", "POST"])
@roles_required(*RELAY_ROLES)
def edit_session(session_id: int):
    session = organised_session(session_id)
    return _session_form(session.parcours, session)


@bp.post("/sessions/<int:session_id>/duplicate")
@roles_required(*RELAY_ROLES)
def duplicate_session(session_id: int):
    session = organised_session(session_id)
    copy = operations.duplicate_session(session, current_user)
    flash(f"Séance du {copy.day:%d/%m/%Y} créée sur le modèle de la précédente : vérifiez-la.", "success")
    return htmx.redirect_to(url_for("workshops.edit_session", session_id=copy.id))


@bp.get("/sessions/<int:session_id>")
@roles_required(*RELAY_ROLES)
def session(session_id: int):
    session = get_scoped_or_404(WorkshopSession, session_id)
    return htmx.render("workshops/session.html", "attendance", **session_page(session))


@bp.post("/sessions/<int:session_id>/attendance/<int:beneficiary_id>")
@roles_required(*RELAY_ROLES)
def mark(session_id: int, beneficiary_id: int):
    session = get_scoped_or_404(WorkshopSession, session_id)
    row = next(iter(sheet_people(session, beneficiary_id)), None)
    if row is None:
        abort(404)  # not on this session's sheet
    status = request.form.get("status", "")
    try:
        operations.record_attendance(session, row[0], status, current_user)
    except Refused as refusal:
        return htmx.render("workshops/session.html", "attendance", **session_page(session, refusal.message),
                           status=422)
    flash(f"{row[0].full_name} : {ATTENDANCE[status].lower()}.", "success")
    if htmx.wants_fragment():
        return htmx.render("workshops/session.html", "attendance", **session_page(session))
    return htmx.redirect_to(url_for("workshops.session", session_id=session.id, _anchor=f"p{beneficiary_id}"))


@bp.get("/sessions/<int:session_id>/sheet.pdf")
@roles_required(*RELAY_ROLES)
def sheet_pdf(session_id: int):
    from ..pdf import pdf_response

    session = get_scoped_or_404(WorkshopSession, session_id)
    return pdf_response("pdf/attendance_sheet.html", f"emargement-{session.id}-{session.day.isoformat()}.pdf",
                        **documents.attendance_sheet_context(session))


@bp.get("/sessions/<int:session_id>/sheet")
@roles_required(*RELAY_ROLES)
def sheet(session_id: int):
    from ..pdf import html_twin

    session = get_scoped_or_404(WorkshopSession, session_id)
    return html_twin("pdf/attendance_sheet.html", **documents.attendance_sheet_context(session))


def _parcours_page(parcours: Parcours, values, form: QuickPersonForm | None = None) -> dict:
    """Everything the parcours page shows; `values` (query string or form) choose the host
    relay and hold the search."""
    hosts = host_relays(parcours)
    host = next((r for r in hosts if r.id == values.get("host", type=record_id)), hosts[0] if hosts else None)
    query = values.get("q", "").strip()[:80]
    found = search(host.id, query, parse_phone(query), 1, 8)[0] if host and query else []
    sessions, people = parcours.sessions, parcours_people(parcours)
    return {
        "parcours": parcours, "sessions": sessions, "today": clock.today(),
        "present": sessions_attendance([s.id for s in sessions]), "people": people,
        "hosts": hosts, "host": host, "places": {r.id: places_left(parcours.id, r.id) for r in hosts},
        "query": query, "found": [p for p in found if not p.anonymised_at],
        "enrolled_ids": {person.id for person, *_ in people}, "no_host": NO_HOST,
        "form": form or QuickPersonForm(formdata=None), "duplicates": [], "error": None,
    }


def _enrolment_refused(page: dict, message: str):
    return htmx.render("workshops/parcours.html", "enrolment", **page | {"error": message}, status=422)


def _enrolment_done(parcours: Parcours, page: dict):
    """The enrolment part again for htmx; back to the parcours page (same search) otherwise."""
    host_id = page["host"].id if page["host"] else None
    if htmx.wants_fragment():
        fresh = _parcours_page(parcours, MultiDict({"q": page["query"], "host": host_id or ""}))
        return htmx.render("workshops/parcours.html", "enrolment", **fresh)
    return htmx.redirect_to(url_for("workshops.parcours", parcours_id=parcours.id, q=page["query"] or None,
                                    host=host_id if len(page["hosts"]) > 1 else None, _anchor="enrolment"))


def organised_session(session_id: int) -> WorkshopSession:
    """A session the user's relay organises: the host relay sees it, but does not change it."""
    session = get_scoped_or_404(WorkshopSession, session_id)
    if session.relay_id != current_user.relay_id:
        abort(403)
    return session


def _next_session(parcours: Parcours) -> WorkshopSession:
    """A new session like the parcours's last one a week later, or with the relay's defaults."""
    last = parcours.sessions[-1] if parcours.sessions else None
    if last:
        fields = {name: getattr(last, name) for name in operations.COPIED_FIELDS}
        return WorkshopSession(**fields | {"day": max(last.day + timedelta(days=7), clock.today())})
    return WorkshopSession(parcours_id=parcours.id, relay_id=parcours.relay_id, day=clock.today(),
                           host_relay_id=None if parcours.relay.is_mobile_team else parcours.relay_id,
                           duration_minutes=120, commune=parcours.relay.town, capacity=10, laptops_planned=0,
                           facilitator_id=current_user.id)


def _session_form(parcours: Parcours, session: WorkshopSession):
    form = SessionForm(obj=session, duration=session.duration_minutes)
    form.host_relay_id.choices = [(r.id, r.name) for r in relays_to_host(parcours.relay)]
    if not parcours.relay.is_mobile_team:
        form.host_relay_id.data = parcours.relay_id  # not asked: a relay holds workshops for its own people
    form.facilitator_id.choices = [(u.id, u.display_name)
                                   for u in possible_facilitators(parcours.relay_id, session.facilitator_id)]
    if (form.validate_on_submit() and _enough_places(form, parcours) and _laptops_stay_free(form, session)
            and _marks_stay_past(form, session)):
        for name in ("day", "start_time", "commune", "venue", "host_relay_id", "facilitator_id", "capacity",
                     "notes"):
            setattr(session, name, form[name].data)
        session.duration_minutes, session.laptops_planned = form.duration.data, form.laptops_planned.data or 0
        operations.save_session(session, parcours, current_user)
        flash(f"Séance du {session.day:%d/%m/%Y} enregistrée.", "success")
        return htmx.redirect_to(url_for("workshops.parcours", parcours_id=parcours.id))
    status = 422 if form.is_submitted() else 200
    return htmx.render("workshops/session_form.html", "form", form=form, parcours=parcours, session=session,
                       status=status)


def _enough_places(form: SessionForm, parcours: Parcours) -> bool:
    enrolled = enrolled_count(parcours.id, form.host_relay_id.data)
    if form.capacity.data < enrolled:
        form.capacity.errors.append(f"Déjà {enrolled} personnes inscrites : prévoyez au moins {enrolled} places.")
        return False
    return True


def _laptops_stay_free(form: SessionForm, session: WorkshopSession) -> bool:
    """A session does not move onto another booking of one of its laptops."""
    clash = slot_clash(session, form.day.data, form.start_time.data, form.duration.data)
    if clash:
        (form.day if form.day.data != session.day else form.start_time).errors.append(clash)
        return False
    return True


def _marks_stay_past(form: SessionForm, session: WorkshopSession) -> bool:
    """A session where people were marked present or absent has taken place: it cannot move to a
    day still to come (its marks would count in the reports ahead of time)."""
    if session.id is None or form.day.data <= clock.today() or not session_marked(session.id):
        return True
    form.day.errors.append("Des présences ou absences sont notées pour cette séance : "
                           "elle ne peut pas passer à une date à venir.")
    return False


def session_page(session: WorkshopSession, error: str | None = None, **laptops) -> dict:
    """The session's page: its attendance sheet, and its laptops part (`laptops`: what a refused
    change of its loans shows)."""
    rows = sheet_people(session)
    sheet = {"session": session, "rows": rows, "counts": sheet_counts(rows), "statuses": ATTENDANCE,
             "today": clock.today(), "organiser": session.relay_id == current_user.relay_id, "error": error}
    return sheet | session_laptops_context(session, **laptops)
