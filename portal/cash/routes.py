"""The daily cash closing of a relay (its managers): the list, the closing form, the closed day
and its report. A closed day is never changed: there is no route to edit one."""
from datetime import date

from flask import Blueprint, abort, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import htmx
from ..errors import Refused
from ..extensions import db
from ..forms import record_id
from ..sales.models import PAYMENT_METHODS
from .. import clock
from ..security import Role, get_scoped_or_404, roles_required, scoped
from . import documents
from .forms import COUNT_FIELDS, ClosingForm
from .models import CashClosing
from .operations import (COUNTED_METHODS, cash_detail_total, close_day, closing_problem,
                         day_summary, unclosed_days)

bp = Blueprint("cash", __name__, url_prefix="/cash")

CLOSINGS_PER_PAGE = 31


@bp.get("/")
@roles_required(Role.MANAGER)
def index():
    page = max(request.args.get("page", 1, type=record_id), 1)
    closings = db.paginate(scoped(CashClosing).order_by(CashClosing.day.desc()), page=page,
                           per_page=CLOSINGS_PER_PAGE, error_out=False)
    return htmx.render("cash/index.html", closings=closings, open_days=unclosed_days(current_user.relay_id))


@bp.route("/close", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def close():
    day = _day_asked()
    if day > clock.today():
        flash("On ne peut pas clôturer une journée à venir.", "error")
        return htmx.redirect_to(url_for("cash.index"))
    closed = db.session.scalar(select(CashClosing).where(CashClosing.relay_id == current_user.relay_id,
                                                         CashClosing.day == day))
    if closed:
        flash("Cette journée est déjà clôturée.", "warning")
        return htmx.redirect_to(url_for("cash.show", closing_id=closed.id))
    form = ClosingForm()
    summary = day_summary(current_user.relay_id, day)
    status, problem = 200, None
    if request.method == "POST" and "compute" not in request.form:
        if form.validate():
            try:
                closing = close_day(current_user, day, form.counted(), form.cash_detail(), form.reason.data)
            except Refused as refusal:
                _show_refusal(form, refusal)
            else:
                flash(f"Journée du {day:%d/%m/%Y} clôturée.", "success")
                return htmx.redirect_to(url_for("cash.show", closing_id=closing.id))
        status = 422
    else:
        if request.method == "POST":
            form.validate()  # "Calculer": totals and differences, nothing recorded
        problem = closing_problem(current_user.relay_id, day)  # said before the user counts
    return htmx.render("cash/close.html", "form", form=form, day=day, summary=summary, problem=problem,
                       counted=_counted_so_far(form), detail_total=cash_detail_total(form.cash_detail()),
                       count_fields=COUNT_FIELDS, labels=PAYMENT_METHODS, methods=COUNTED_METHODS,
                       status=status)


@bp.get("/<int:closing_id>")
@roles_required(Role.MANAGER)
def show(closing_id: int):
    closing = get_scoped_or_404(CashClosing, closing_id)
    return htmx.render("cash/show.html", closing=closing, report=documents.closing_context(closing))


@bp.get("/<int:closing_id>/report.pdf")
@roles_required(Role.MANAGER)
def report_pdf(closing_id: int):
    from ..pdf import pdf_response

    closing = get_scoped_or_404(CashClosing, closing_id)
    filename = f"cloture-{closing.relay.code}-{closing.day.isoformat()}.pdf"
    return pdf_response("pdf/closing.html", filename, **documents.closing_context(closing))


@bp.get("/<int:closing_id>/report")
@roles_required(Role.MANAGER)
def report(closing_id: int):
    from ..pdf import html_twin

    closing = get_scoped_or_404(CashClosing, closing_id)
    return html_twin("pdf/closing.html", **documents.closing_context(closing))


def _day_asked() -> date:
    """?day=YYYY-MM-DD (today when absent); 404 for anything else."""
    text = request.args.get("day", "")
    if not text:
        return clock.today()
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(404)


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
