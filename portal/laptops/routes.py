"""The laptop fleet: where each laptop is (every staff member), its records (coordinators), and its
loans to a session, from the session's page (the relays at the session)."""
from collections import Counter

from flask import Blueprint, abort, flash, url_for
from flask_login import current_user

from .. import clock, htmx
from ..errors import Refused
from ..security import RELAY_ROLES, Role, get_scoped_or_404, no_store, roles_required
from ..workshops.models import WorkshopSession
from ..workshops.routes import organised_session, session_page
from . import operations
from .forms import TAG_TAKEN, BookForm, LaptopForm, ReturnForm
from .models import LAPTOP_STATES, Laptop
from .queries import current_or_next_loans, fleet, session_laptops_context, session_loan, sessions_to_open, tag_taken

bp = Blueprint("laptops", __name__, url_prefix="/laptops")

STAFF = (Role.VOLUNTEER, Role.MANAGER, Role.COORDINATOR, Role.ADMIN)
LAPTOP_FIELDS = ("tag", "model", "serial", "state", "notes")


bp.after_request(no_store)  # a refusal answers with the session's page, which names people


@bp.get("/")
@roles_required(*STAFF)
def index():
    laptops = fleet()
    loans = current_or_next_loans(clock.today())
    return htmx.render("laptops/index.html", laptops=laptops, loans=loans, states=LAPTOP_STATES,
                       counts=Counter(laptop.state for laptop in laptops),
                       openable=sessions_to_open({loan.session_id for loan in loans.values()}))


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:laptop_id>/edit", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR)
def edit(laptop_id: int | None = None):
    laptop = (get_scoped_or_404(Laptop, laptop_id) if laptop_id
              else Laptop(territory_id=current_user.territory_id, state="available"))
    form = LaptopForm(obj=laptop)
    if laptop.state == "loaned":
        del form.state  # its return sets it
    if form.validate_on_submit() and _tag_is_free(form, laptop):
        try:
            laptop = operations.save_laptop(laptop, {name: form[name].data for name in LAPTOP_FIELDS if name in form},
                                            current_user)
        except Refused as refusal:
            form.form_errors.append(refusal.message)
        else:
            flash(f"Ordinateur {laptop.tag} enregistré.", "success")
            return htmx.redirect_to(url_for("laptops.index"))
    status = 422 if form.is_submitted() else 200
    return htmx.render("laptops/form.html", "form", form=form, laptop=laptop, status=status)


@bp.post("/sessions/<int:session_id>/book")
@roles_required(*RELAY_ROLES)
def book(session_id: int):
    session = organised_session(session_id)
    form = BookForm()
    if not form.validate():
        return _refused(session, book_form=form)
    try:
        booked = operations.book_laptops(session, form.laptop_id.data, current_user)
    except Refused as refusal:
        return _refused(session, refusal.message, book_form=form)
    flash(_done_message(booked, "réservé", "réservés"), "success")
    return _done(session)


@bp.post("/sessions/<int:session_id>/<int:laptop_id>/delete")
@roles_required(*RELAY_ROLES)
def unbook(session_id: int, laptop_id: int):
    session = organised_session(session_id)
    if session_loan(session.id, laptop_id) is None:
        abort(404)  # not booked for this session
    try:
        laptop = operations.unbook_laptop(session, laptop_id, current_user)
    except Refused as refusal:
        return _refused(session, refusal.message)
    flash(f"Réservation de {laptop.tag} retirée.", "success")
    return _done(session)


@bp.post("/sessions/<int:session_id>/hand-out")
@roles_required(*RELAY_ROLES)
def hand_out(session_id: int):
    session = get_scoped_or_404(WorkshopSession, session_id)  # the organiser's or the host relay's
    try:
        laptops = operations.hand_out_laptops(session, current_user)
    except Refused as refusal:
        return _refused(session, refusal.message)
    flash(_done_message(laptops, "remis", "remis"), "success")
    return _done(session)


@bp.post("/sessions/<int:session_id>/<int:laptop_id>/return")
@roles_required(*RELAY_ROLES)
def return_laptop(session_id: int, laptop_id: int):
    session = get_scoped_or_404(WorkshopSession, session_id)  # the organiser's or the host relay's
    if session_loan(session.id, laptop_id) is None:
        abort(404)  # not booked for this session
    form = ReturnForm(laptop_id)
    if not form.validate():
        return _refused(session, return_form=form)
    try:
        laptop = operations.return_laptop(session, laptop_id, current_user, form.reset_done.data, form.damage.data,
                                          form.needs_repair.data)
    except Refused as refusal:
        return _refused(session, refusal.message, return_form=form)
    flash(f"Retour de {laptop.tag} enregistré{' : à réparer' if laptop.state == 'repair' else ''}.", "success")
    return _done(session)


def _tag_is_free(form: LaptopForm, laptop: Laptop) -> bool:
    if tag_taken(laptop.territory_id, form.tag.data, laptop.id):
        form.tag.errors.append(TAG_TAKEN)
        return False
    return True


def _done_message(laptops: list[Laptop], done: str, done_plural: str) -> str:
    """"2 ordinateurs réservés : PC-01, PC-02."."""
    if not laptops:
        return f"Aucun nouvel ordinateur {done}."
    count = f"1 ordinateur {done}" if len(laptops) == 1 else f"{len(laptops)} ordinateurs {done_plural}"
    return f"{count} : {', '.join(laptop.tag for laptop in laptops)}."


def _done(session: WorkshopSession):
    """The laptops part again for htmx; back to the session's page otherwise."""
    if htmx.wants_fragment():
        return htmx.render("workshops/session.html", "laptops", **session_laptops_context(session))
    return htmx.redirect_to(url_for("workshops.session", session_id=session.id, _anchor="laptops"))


def _refused(session: WorkshopSession, message: str | None = None, **forms):
    """The laptops part with the message or the form's errors (the whole page without JavaScript)."""
    return htmx.render("workshops/session.html", "laptops", status=422,
                       **session_page(session, laptops_error=message, **forms))
