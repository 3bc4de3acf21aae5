"""The sale screen, the sale page, receipts and voids."""
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from .. import clock, htmx, payments
from ..beneficiaries.models import Beneficiary
from ..beneficiaries.queries import search
from ..cash.operations import open_session_of, till_status
from ..database import read_only
from ..errors import Refused
from ..extensions import db
from ..forms import HIDDEN, HIDDEN_CHARACTERS, record_id
from ..security import RELAY_ROLES, Role, get_scoped_or_404, no_store, roles_required, scoped
from ..stock.operations import serial_in_stock
from .filters import SalesFilterForm
from .forms import MAX_LINES, NewLine, SaleDraft, new_draft, parse_draft, parse_new_line
from .models import ReceiptPrint, Sale
from .operations import LineRequest, record_sale, refund_choice, void_sale
from .prints import PRINTED_AT, next_print_number, print_original, reprint
from .queries import sales_list, sales_totals
from .rules import Offered, bill, offer, sale_problems

bp = Blueprint("sales", __name__, url_prefix="/sales")



bp.after_request(no_store)  # these pages name people


SALES_PER_PAGE = 30  # a page of the list stays within its 14 KB budget (tests/test_sales_list.py)


@bp.get("/")
@roles_required(*RELAY_ROLES)
def index():
    relay_id = current_user.relay_id
    form = SalesFilterForm(request.args, [offered.product for offered in offer(relay_id).values()])
    filters = form.filters(relay_id)
    if filters is None:
        return htmx.render("sales/index.html", "results", form=form, status=422)
    page = max(request.args.get("page", 1, type=record_id), 1)
    totals = sales_totals(relay_id, filters)
    rows = db.session.execute(sales_list(relay_id, filters).limit(SALES_PER_PAGE)
                              .offset((page - 1) * SALES_PER_PAGE)).all()
    return htmx.render("sales/index.html", "results", form=form, rows=rows, totals=totals, page=page,
                       pages=max(-(-totals.receipts // SALES_PER_PAGE), 1), methods=payments.labels(),
                       today=clock.today(), filters=filters,
                       till_open=open_session_of(relay_id) is not None)


@bp.get("/new")
@roles_required(*RELAY_ROLES)
def new():
    """The sale screen: find the person (a fragment while typing), then the empty draft for them."""
    draft = new_draft(request.args.get("beneficiary", type=record_id))
    query = request.args.get("q", "").strip()[:80]
    people = search(current_user.relay_id, query, None, 1, 8)[0] if query else []
    return htmx.render("sales/new.html", "people" if query else None, **_screen(draft, offer(current_user.relay_id)),
                       query=query, people=people)


@bp.post("/new/lines")
@read_only
@roles_required(*RELAY_ROLES)
def add_line():
    """Add the chosen or scanned product. With nothing chosen it only recalculates: Enter in an
    amount field submits with the form's first button, "Ajouter"."""
    draft = parse_draft(request.form)
    line = parse_new_line(request.form, draft)
    offered = offer(current_user.relay_id)
    if not line.empty and not {"add", "add_quantity"} & draft.errors.keys():
        _add_line(draft, line, offered)
    draft.fill_cash(bill(draft.lines, offered).total)
    return _render(draft, offered, focus_code=True)


@bp.post("/new/remove")
@read_only
@roles_required(*RELAY_ROLES)
def remove_line():
    """Take line n (the button's value) out of the draft."""
    draft = parse_draft(request.form)
    offered = offer(current_user.relay_id)
    draft.remove_line(request.form.get("line", -1, type=int))
    draft.fill_cash(bill(draft.lines, offered).total)
    return _render(draft, offered)


@bp.post("/new/recalculate")
@read_only
@roles_required(*RELAY_ROLES)
def recalculate():
    """The draft's totals, change and checks for what is typed, amounts kept as they are."""
    draft = parse_draft(request.form)
    return _render(draft, offer(current_user.relay_id))


@bp.post("/new")
@roles_required(*RELAY_ROLES)
def record():
    """Record the draft (or find the sale its one-time token already recorded) and show it."""
    draft = parse_draft(request.form)
    if not draft.errors:
        try:
            sale = record_sale(current_user, draft.token, draft.lines, draft.payments(),
                               draft.beneficiary_id, draft.override_reason)
        except Refused as refusal:
            draft.errors[refusal.field or "sale"] = refusal.message
        else:
            if sale.replayed:
                flash(f"Cette vente était déjà enregistrée (n° {sale.number}).", "info")
            else:
                flash(f"Vente {sale.number} enregistrée.", "success")
            return htmx.redirect_to(url_for("sales.show", sale_id=sale.id))
    # The refusal rolled the transaction back: the products are read again for the screen.
    return _render(draft, offer(current_user.relay_id))


@bp.get("/<int:sale_id>")
@roles_required(*RELAY_ROLES)
def show(sale_id: int):
    sale = get_scoped_or_404(Sale, sale_id)
    return _sale_page(sale)


@bp.post("/<int:sale_id>/print")
@roles_required(*RELAY_ROLES)
def print_receipt(sale_id: int):
    sale = get_scoped_or_404(Sale, sale_id)
    made = print_original(current_user, sale)
    return htmx.redirect_to(url_for("sales.print_pdf", sale_id=sale.id, number=made.number))


@bp.post("/<int:sale_id>/reprint")
@roles_required(*RELAY_ROLES)
def reprint_receipt(sale_id: int):
    sale = get_scoped_or_404(Sale, sale_id)
    try:
        made = reprint(current_user, sale, request.form.get("seen", type=record_id))
    except Refused as refusal:
        return _sale_page(sale, print_error=refusal.message)
    return htmx.redirect_to(url_for("sales.print_pdf", sale_id=sale.id, number=made.number))


@bp.get("/<int:sale_id>/prints/<int:number>.pdf")
@roles_required(*RELAY_ROLES)
def print_pdf(sale_id: int, number: int):
    """A print already made, as it was printed: the same document however often it is fetched
    (whole: a Range header is ignored, as HTTP allows), and fetching it writes nothing."""
    from ..pdf import pdf_response
    from .documents import receipt_context

    sale = get_scoped_or_404(Sale, sale_id)
    made = db.session.get(ReceiptPrint, (sale.id, number))
    if made is None:
        abort(404)
    name = f"recu-{sale.number}.pdf" if made.is_original else f"recu-{sale.number}-duplicata-{number}.pdf"
    return pdf_response("pdf/receipt.html", name, **receipt_context(sale, number, made.printed_at))


@bp.get("/<int:sale_id>/receipt.pdf")
@roles_required(*RELAY_ROLES)
def receipt_pdf(sale_id: int):
    """The address receipts had before each print was recorded: the latest print, or the sale
    page (where printing is a button) when there is none. Never a new print."""
    sale = get_scoped_or_404(Sale, sale_id)
    if not sale.prints:
        return redirect(url_for("sales.show", sale_id=sale.id))
    return redirect(url_for("sales.print_pdf", sale_id=sale.id, number=sale.prints[-1].number))


@bp.get("/<int:sale_id>/receipt")
@roles_required(*RELAY_ROLES)
def receipt(sale_id: int):
    """The HTML twin of the receipt's next print (the original until one is made)."""
    from ..pdf import html_twin
    from .documents import receipt_context

    sale = get_scoped_or_404(Sale, sale_id)
    return html_twin("pdf/receipt.html", **receipt_context(sale, next_print_number(sale)))


@bp.route("/<int:sale_id>/void", methods=["GET", "POST"])
@roles_required(Role.MANAGER)
def void(sale_id: int):
    sale = get_scoped_or_404(Sale, sale_id)
    if sale.is_void or sale.voided_by:
        abort(404)
    error, reason = None, request.form.get("reason", "").strip()[:300]
    token = HIDDEN.sub("", request.form.get("token", "")) or new_draft(None).token
    if request.method == "POST" and HIDDEN.search(reason):
        error = HIDDEN_CHARACTERS
    elif request.method == "POST":
        try:
            voided = void_sale(current_user, sale, reason, token[:64], request.form.get("refund_method") or None)
        except Refused as refusal:
            error = refusal.message
        else:
            flash(f"Vente {sale.number} annulée par {voided.number}. Le stock a été rétabli.", "success")
            return htmx.redirect_to(url_for("sales.show", sale_id=sale.id))
    return htmx.render("sales/void.html", "form", sale=sale, error=error, reason=reason, token=token,
                       refund=refund_choice(sale), status=422 if error else 200)


def _sale_page(sale: Sale, print_error: str | None = None):
    """The sale page; with print_error, a refused reprint said next to its button (422)."""
    return htmx.render("sales/show.html", sale=sale, print_error=print_error,
                       next_print=next_print_number(sale), printed_at_format=PRINTED_AT,
                       status=422 if print_error else 200)


def _render(draft: SaleDraft, offered: dict[int, Offered], focus_code: bool = False):
    """The sale block (the whole page without htmx), 422 when a field needs correcting."""
    return htmx.render("sales/new.html", "sale", **_screen(draft, offered), query="", people=[],
                       focus_code=focus_code, status=422 if draft.errors else 200)


def _screen(draft: SaleDraft, offered: dict[int, Offered]) -> dict:
    """Everything the sale screen shows for a draft, with what would block it."""
    person = None
    if draft.beneficiary_id:
        person = db.session.scalar(scoped(Beneficiary).where(Beneficiary.id == draft.beneficiary_id,
                                                             Beneficiary.anonymised_at.is_(None)))
        if person is None:
            draft.beneficiary_id = None
    counted = [line for line in draft.lines if line.quantity]  # a quantity to correct blocks nothing yet
    problems = {}
    for problem in sale_problems(current_user, person, offered, counted, draft.override_reason):
        problems.setdefault(problem.field, []).append(problem.message)
    return {"draft": draft, "offered": list(offered.values()), "person": person,
            "bill": bill(draft.lines, offered), "problems": problems, "change": draft.change(),
            "methods": payments.at_the_till(), "till": till_status(current_user), "today": clock.today(),
            "warning_days": current_app.config["ELIGIBILITY_WARNING_DAYS"]}


def _add_line(draft: SaleDraft, new: NewLine, offered: dict[int, Offered]) -> None:
    """Add the chosen product (or the one a scanned code or serial number names) to the draft."""
    product_id, serial = new.product_id, new.serial
    if new.code:
        by_code = next((p for p, _ in offered.values() if p.code.upper() == new.code.upper()), None)
        item = None if by_code else serial_in_stock(current_user.relay_id, new.code)
        if by_code:
            product_id = by_code.id
        elif item and item.product_id in offered:
            product_id, serial = item.product_id, item.serial
        else:
            draft.errors["add"] = f"Aucun produit ni numéro de série « {new.code} » en stock ici."
            return
    product = offered[product_id].product if product_id in offered else None
    if product is None:
        draft.errors["add"] = "Choisissez un produit."
    elif len(draft.lines) >= MAX_LINES:
        draft.errors["add"] = f"{MAX_LINES} lignes au plus par vente."
    elif product.is_tracked and not serial:
        draft.errors["add"] = f"{product.name} : scannez ou saisissez le numéro de série."
    elif product.is_tracked and any(line.serial == serial for line in draft.lines):
        draft.errors["add"] = f"Le numéro {serial} est déjà dans la vente."
    else:
        draft.lines.append(LineRequest(product.id, 1 if product.is_tracked else new.quantity,
                                       serial if product.is_tracked else ""))
