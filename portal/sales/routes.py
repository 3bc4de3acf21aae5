"""The sale screen, the sale page, receipts and voids."""
from flask import Blueprint, abort, current_app, flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import clock, htmx
from ..beneficiaries.models import Beneficiary
from ..beneficiaries.queries import search
from ..catalogue.models import Product, ProductOffer
from ..errors import Refused
from ..extensions import db
from ..forms import HIDDEN, HIDDEN_CHARACTERS, parse_euros, record_id
from ..security import RELAY_ROLES, Role, get_scoped_or_404, no_store, roles_required, scoped
from ..stock.models import StockLevel
from ..stock.operations import serial_in_stock
from .filters import SalesFilterForm
from .forms import MAX_LINES, SaleDraft, new_draft, parse_draft
from .models import PAYMENT_METHODS, ReceiptPrint, Sale
from .operations import LineRequest, record_sale, void_sale
from .prints import PRINTED_AT, next_print_number, print_original, reprint
from .queries import sales_list, sales_totals

bp = Blueprint("sales", __name__, url_prefix="/sales")



bp.after_request(no_store)  # these pages name people


SALES_PER_PAGE = 30  # a page of the list stays within its 14 KB budget (tests/test_sales_list.py)


@bp.get("/")
@roles_required(*RELAY_ROLES)
def index():
    relay_id = current_user.relay_id
    form = SalesFilterForm(request.args, [product for product, _ in _offered(relay_id)])
    filters = form.filters(relay_id)
    if filters is None:
        return htmx.render("sales/index.html", "results", form=form, status=422)
    page = max(request.args.get("page", 1, type=record_id), 1)
    totals = sales_totals(relay_id, filters)
    rows = db.session.execute(sales_list(relay_id, filters).limit(SALES_PER_PAGE)
                              .offset((page - 1) * SALES_PER_PAGE)).all()
    return htmx.render("sales/index.html", "results", form=form, rows=rows, totals=totals, page=page,
                       pages=max(-(-totals.receipts // SALES_PER_PAGE), 1), methods=PAYMENT_METHODS,
                       today=clock.today())


@bp.route("/new", methods=["GET", "POST"])
@roles_required(*RELAY_ROLES)
def new():
    offered = _offered(current_user.relay_id)
    if request.method == "GET":
        draft = new_draft(request.args.get("beneficiary", type=record_id))
        query = request.args.get("q", "").strip()[:80]
        people = search(current_user.relay_id, query, None, 1, 8)[0] if query else []
        return htmx.render("sales/new.html", "people" if query else None, **_screen(draft, offered),
                           query=query, people=people)
    draft = parse_draft(request.form)
    action = request.form.get("action", "update")
    if action == "add" and not request.form.get("add_code", "").strip() and not request.form.get("add_product"):
        # Enter in an amount field submits with the form's first button, "Ajouter": nothing to
        # add, so it recalculates (as "Recalculer" does) instead of answering "Choisissez un produit."
        action = "update"
    if action == "add":
        _add_line(draft, request.form, {product.id: product for product, _ in offered})
    elif action.startswith("remove-"):
        index = int(action.removeprefix("remove-")) if action.removeprefix("remove-").isdigit() else -1
        if 0 <= index < len(draft.lines):
            draft.lines.pop(index)
    elif action == "record" and not draft.errors:
        try:
            sale = record_sale(current_user, draft.token, draft.lines, draft.payments(),
                               draft.beneficiary_id, draft.override_reason)
        except Refused as refusal:
            draft.errors[refusal.field or "sale"] = refusal.message
        else:
            flash(f"Vente {sale.number} enregistrée.", "success")
            return htmx.redirect_to(url_for("sales.show", sale_id=sale.id))
    screen = _screen(draft, offered, default_payment=action != "record")
    status = 422 if draft.errors else 200
    return htmx.render("sales/new.html", "sale", **screen, query="", people=[], focus_code=action == "add",
                       status=status)


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
            voided = void_sale(current_user, sale, reason, token[:64])
        except Refused as refusal:
            error = refusal.message
        else:
            flash(f"Vente {sale.number} annulée par {voided.number}. Le stock a été rétabli.", "success")
            return htmx.redirect_to(url_for("sales.show", sale_id=sale.id))
    return htmx.render("sales/void.html", "form", sale=sale, error=error, reason=reason, token=token,
                       status=422 if error else 200)


def _sale_page(sale: Sale, print_error: str | None = None):
    """The sale page; with print_error, a refused reprint said next to its button (422)."""
    return htmx.render("sales/show.html", sale=sale, methods=PAYMENT_METHODS, print_error=print_error,
                       next_print=next_print_number(sale), printed_at_format=PRINTED_AT,
                       status=422 if print_error else 200)


def _offered(relay_id: int) -> list[tuple[Product, int]]:
    """The relay's active products with their stock."""
    rows = db.session.execute(
        select(Product, StockLevel.quantity).join(ProductOffer)
        .outerjoin(StockLevel, (StockLevel.product_id == Product.id) & (StockLevel.relay_id == relay_id))
        .where(ProductOffer.relay_id == relay_id, Product.active).order_by(Product.category, Product.name)
    ).all()
    return [(product, quantity or 0) for product, quantity in rows]


def _screen(draft: SaleDraft, offered: list[tuple[Product, int]], default_payment: bool = False) -> dict:
    """Everything the sale screen shows for a draft; with default_payment, cash for the whole
    total until the volunteer types another split."""
    products = {product.id: product for product, _ in offered}
    person = None
    if draft.beneficiary_id:
        person = db.session.scalar(scoped(Beneficiary).where(Beneficiary.id == draft.beneficiary_id,
                                                             Beneficiary.anonymised_at.is_(None)))
        if person is None:
            draft.beneficiary_id = None
    lines = [(line, products.get(line.product_id)) for line in draft.lines]
    total = sum(line.quantity * product.price_cents for line, product in lines if product)
    reference = sum(line.quantity * product.reference_cents for line, product in lines if product)
    if default_payment and not (draft.pay_card.strip() or draft.pay_cheque.strip()):
        draft.pay_cash = f"{total // 100},{total % 100:02d}" if total else ""
    change = None
    if not draft.errors.get("cash_given") and draft.cash_given.strip() and not draft.errors.get("pay_cash"):
        change = parse_euros(draft.cash_given) - parse_euros(draft.pay_cash)
    return {"draft": draft, "offered": offered, "person": person, "lines": lines, "total": total,
            "reference": reference, "change": change, "today": clock.today(),
            "warning_days": current_app.config["ELIGIBILITY_WARNING_DAYS"]}


def _add_line(draft: SaleDraft, form, offered: dict[int, Product]) -> None:
    """Add the chosen product (or the one a scanned code or serial number names) to the draft."""
    code = form.get("add_code", "").strip()[:40]
    product_id = int(form.get("add_product")) if form.get("add_product", "").isdigit() else None
    quantity = int(form.get("add_quantity")) if form.get("add_quantity", "").isdigit() else 1
    serial = form.get("add_serial", "").strip()[:40]
    if HIDDEN.search(code + serial):
        draft.errors["add"] = HIDDEN_CHARACTERS
        return
    if code:
        by_code = next((p for p in offered.values() if p.code.upper() == code.upper()), None)
        item = None if by_code else serial_in_stock(current_user.relay_id, code)
        if by_code:
            product_id = by_code.id
        elif item and item.product_id in offered:
            product_id, serial = item.product_id, item.serial
        else:
            draft.errors["add"] = f"Aucun produit ni numéro de série « {code} » en stock ici."
            return
    product = offered.get(product_id)
    if product is None:
        draft.errors["add"] = "Choisissez un produit."
    elif len(draft.lines) >= MAX_LINES:
        draft.errors["add"] = f"{MAX_LINES} lignes au plus par vente."
    elif product.is_tracked and not serial:
        draft.errors["add"] = f"{product.name} : scannez ou saisissez le numéro de série."
    elif product.is_tracked and any(line.serial == serial for line in draft.lines):
        draft.errors["add"] = f"Le numéro {serial} est déjà dans la vente."
    elif not 1 <= quantity <= 100:
        draft.errors["add"] = "La quantité doit être comprise entre 1 et 100."
    else:
        draft.lines.append(LineRequest(product.id, 1 if product.is_tracked else quantity,
                                       serial if product.is_tracked else ""))
