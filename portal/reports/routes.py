"""Activity reports: every relay's figures over a period, compared with the period before —
figures only, never a person (small counts masked)."""
from flask import Blueprint, request
from flask_login import current_user

from .. import clock, htmx, payments
from ..cash.operations import long_open_sessions
from ..catalogue.models import CATEGORIES
from ..extensions import db
from ..ledger.operations import verify_relay
from ..pdf import html_twin, pdf_response
from ..relays.models import Relay
from ..security import Role, get_scoped_or_404, roles_required, scoped
from ..stock.queries import relay_stock
from . import display, documents, exports
from .forms import Period, PeriodForm
from .queries import (Figures, closing_differences, is_silent, last_activity, last_months, monthly_trend,
                      recent_voids, relay_figures)

bp = Blueprint("reports", __name__, url_prefix="/reports")
display.register(bp)  # masked, compare, money_compare, hours

READERS = (Role.MANAGER, Role.COORDINATOR, Role.ADMIN)  # volunteers: no report (README)
# The dashboard's tables of relays, one at a time (a page of 100 relays stays under 14 KB).
VIEWS = {"activity": "Activité", "categories": "Ventes par catégorie", "payments": "Paiements"}


@bp.get("/")
@roles_required(*READERS)
def index():
    form = PeriodForm(request.args)
    period = form.chosen(clock.today())
    view = request.args.get("view") if request.args.get("view") in VIEWS else "activity"
    relays = _reported_relays()
    if period is None:
        return htmx.render("reports/index.html", form=form, period=None, view=view, status=422)
    previous = period.previous(form.period.data)
    ids = [relay.id for relay in relays]
    now, before = relay_figures(ids, period.start, period.end), relay_figures(ids, previous.start, previous.end)
    total, total_before = Figures(), Figures()
    for relay_id in ids:
        total.add(now[relay_id])
        total_before.add(before[relay_id])
    return htmx.render("reports/index.html", form=form, period=period, previous=previous, relays=relays, now=now,
                       before=before, total=total, total_before=total_before, categories=CATEGORIES,
                       methods=payments.labels(), views=VIEWS, view=view)


@bp.get("/relays/<int:relay_id>")
@roles_required(*READERS)
def relay(relay_id: int):
    relay = get_scoped_or_404(Relay, relay_id)
    form = PeriodForm(request.args)
    today = clock.today()
    period = form.chosen(today)
    if period is None:
        return htmx.render("reports/relay.html", form=form, relay=relay, period=None, status=422)
    previous = period.previous(form.period.data)
    now = relay_figures([relay.id], period.start, period.end)[relay.id]
    before = relay_figures([relay.id], previous.start, previous.end)[relay.id]
    last = last_activity(relay.id, today)
    return htmx.render(
        "reports/relay.html", form=form, relay=relay, period=period, previous=previous, f=now, b=before,
        categories=CATEGORIES, methods=payments.labels(), trend=monthly_trend(relay.id, last_months(today)),
        stock=relay_stock(relay.id), voids=recent_voids(relay.id, period.start, period.end),
        differences=closing_differences(relay.id, period.start, period.end),
        long_open=long_open_sessions(relay.id),
        ledger_problem=verify_relay(relay.id), last_activity=last, silent=is_silent(last, today))


# --- Exports: the dashboard's period and relays as files ---------------------------------------

def _asked_period() -> tuple[str, Period | None]:
    """The kind of period and the period of the request (the dashboard's form), None if invalid."""
    form = PeriodForm(request.args)
    return form.period.data, form.chosen(clock.today())


def _reported_relays() -> list[Relay]:
    """The relays of the dashboard: the active ones the user may see, by name."""
    return db.session.scalars(scoped(Relay).where(Relay.active).order_by(Relay.name)).all()


def _file_dates(period: Period) -> str:
    return f"{period.start.isoformat()}-{period.end.isoformat()}"


@bp.get("/figures.csv")
@roles_required(*READERS)
def figures_csv():
    _, period = _asked_period()
    if period is None:
        return index()  # the dashboard, with what is wrong next to the field (422)
    return exports.csv_response(exports.figures_rows(_reported_relays(), period),
                                f"activite-{_file_dates(period)}.csv")


@bp.get("/journal.csv")
@roles_required(*READERS)
def journal_csv():
    _, period = _asked_period()
    if period is None:
        return index()
    # Every relay the user may see, inactive ones too: an accounting journal misses no sale.
    relay_ids = db.session.scalars(scoped(Relay).with_only_columns(Relay.id)).all()
    return exports.csv_response(exports.journal_rows(relay_ids, period),
                                f"journal-ventes-{_file_dates(period)}.csv")


def _activity_report(period: Period, kind: str) -> dict:
    """The report's context: named after what the user oversees, compared with the period before."""
    if current_user.role == Role.ADMIN:
        scope = "Tous les territoires"
    elif current_user.role == Role.COORDINATOR:
        scope = current_user.territory.name
    else:
        scope = current_user.relay.name
    return documents.activity_report_context(scope, _reported_relays(), period, period.previous(kind))


@bp.get("/report.pdf")
@roles_required(*READERS)
def report_pdf():
    kind, period = _asked_period()
    if period is None:
        return index()
    return pdf_response("pdf/activity_report.html", f"rapport-activite-{_file_dates(period)}.pdf",
                        **_activity_report(period, kind))


@bp.get("/report")
@roles_required(*READERS)
def report():
    kind, period = _asked_period()
    if period is None:
        return index()
    return html_twin("pdf/activity_report.html", **_activity_report(period, kind))
