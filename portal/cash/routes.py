"""A relay's till (its managers): the open session or the opening form, bank deposits, the
closing form, the closed sessions and their reports. A closed session is never changed: there
is no route to edit one."""
from flask import Blueprint, abort, flash, redirect, request, url_for
from flask_login import current_user

from .. import htmx, payments
from ..errors import Refused
from ..extensions import db
from ..forms import record_id
from ..security import Role, get_scoped_or_404, roles_required, scoped
from . import documents
from .forms import COUNT_FIELDS, ClosingForm, DepositForm, OpenForm
from .models import CashSession
from .operations import (carried_cash, cash_detail_total, close_session, open_session, open_session_of,
                         record_deposit, session_summary)

bp = Blueprint("cash", __name__, url_prefix="/cash")

SESSIONS_PER_PAGE = 31


@bp.get("/")
@roles_required(Role.MANAGER)
def index():
    return _index(OpenForm(formdata=None), DepositForm(formdata=None))


def _index(open_form, deposit_form, block=None, status=200):
    page = max(request.args.get("page", 1, type=record_id), 1)
    closed = db.paginate(scoped(CashSession).where(CashSession.closed_at.is_not(None))
                         .order_by(CashSession.closed_at.desc(), CashSession.id.desc()),
                         page=page, per_page=SESSIONS_PER_PAGE, error_out=False)
    session = open_session_of(current_user.relay_id)
    return htmx.render("cash/index.html", block, session=session,
                       summary=session_summary(session) if session else None, closed=closed,
                       open_form=open_form, deposit_form=deposit_form, carried=carried_cash(current_user.relay_id),
                       status=status)


@bp.post("/open")
@roles_required(Role.MANAGER)
def open_till():
    """Open a session; from the sale screen (?then=sale), go back to it with the cart (a 307 posts
    the sale form again) whatever the answer, which flash() says."""
    form = OpenForm()
    back_to_sale = request.args.get("then") == "sale"
    if open_session_of(current_user.relay_id) and not back_to_sale:
        flash("La caisse est déjà ouverte.", "warning")
        return htmx.redirect_to(url_for("cash.index"))
    if form.validate():
        try:
            open_session(current_user, form.float_cents(), carry_over=form.float_cents() is None)
        except Refused as refusal:
            flash(refusal.message, "warning")
            if back_to_sale:
                return redirect(url_for("sales.recalculate"), code=307)
            return htmx.redirect_to(url_for("cash.index"))  # a twin request opened it first
        else:
            flash("Caisse ouverte.", "success")
            if back_to_sale:
                return redirect(url_for("sales.recalculate"), code=307)
            return htmx.redirect_to(url_for("cash.index"))
    elif back_to_sale:
        flash(" ".join(form.opening_float.errors), "error")
        return redirect(url_for("sales.recalculate"), code=307)
    return _index(form, DepositForm(formdata=None), "open_form", 422)


@bp.post("/deposit")
@roles_required(Role.MANAGER)
def deposit():
    form = DepositForm()
    if open_session_of(current_user.relay_id) is None:
        flash("La caisse n'est pas ouverte.", "warning")
        return htmx.redirect_to(url_for("cash.index"))
    if form.validate():
        try:
            record_deposit(current_user, form.amount_cents(), form.slip_number.data)
        except Refused as refusal:
            field = getattr(form, refusal.field or "", None)
            (field.errors if field is not None else form.form_errors).append(refusal.message)
        else:
            flash("Dépôt en banque enregistré.", "success")
            return htmx.redirect_to(url_for("cash.index"))
    return _index(OpenForm(formdata=None), form, "deposit_form", 422)


@bp.route("/close", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def close():
    session = open_session_of(current_user.relay_id)
    if session is None:
        flash("Aucune session de caisse n'est ouverte.", "warning")
        return htmx.redirect_to(url_for("cash.index"))
    form = ClosingForm()
    status = 200
    if request.method == "POST" and "compute" not in request.form:
        if form.validate():
            try:
                closed = close_session(current_user, form.counted(), form.cash_detail(), form.reason.data)
            except Refused as refusal:
                _show_refusal(form, refusal)
            else:
                flash("Session de caisse clôturée.", "success")
                return htmx.redirect_to(url_for("cash.show", closing_id=closed.id))
        status = 422
    elif request.method == "POST":
        form.validate()  # "Calculer": totals and differences, nothing recorded
    return htmx.render("cash/close.html", "form", form=form, session=session, summary=session_summary(session),
                       counted=_counted_so_far(form), detail_total=cash_detail_total(form.cash_detail()),
                       count_fields=COUNT_FIELDS, methods=payments.counted(), status=status)


def _closed_or_404(closing_id: int) -> CashSession:
    session = get_scoped_or_404(CashSession, closing_id)
    if session.is_open:
        abort(404)  # an open session is the till's page; it has no report yet
    return session


@bp.get("/<int:closing_id>")
@roles_required(Role.MANAGER)
def show(closing_id: int):
    session = _closed_or_404(closing_id)
    return htmx.render("cash/show.html", session=session, report=documents.closing_context(session))


@bp.get("/<int:closing_id>/report.pdf")
@roles_required(Role.MANAGER)
def report_pdf(closing_id: int):
    from ..pdf import pdf_response

    session = _closed_or_404(closing_id)
    filename = f"cloture-{session.relay.code}-{session.day.isoformat()}-{session.id}.pdf"
    context = documents.closing_context(session)
    return pdf_response("pdf/closing.html", filename, report=context, **context)


@bp.get("/<int:closing_id>/report")
@roles_required(Role.MANAGER)
def report(closing_id: int):
    from ..pdf import html_twin

    context = documents.closing_context(_closed_or_404(closing_id))
    return html_twin("pdf/closing.html", report=context, **context)


def _show_refusal(form: ClosingForm, refusal: Refused) -> None:
    field = getattr(form, refusal.field, None) if refusal.field else None
    if field is not None:
        field.errors.append(refusal.message)
    else:
        form.form_errors.append(refusal.message)


def _counted_so_far(form: ClosingForm) -> dict[str, int] | None:
    """Cents counted per method once the user has typed valid amounts and counts; None before."""
    if request.method != "POST" or any(name != "reason" for name in form.errors):
        return None
    try:
        return form.counted()
    except ValueError:
        return None
