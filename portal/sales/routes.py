"""The sale screen, the sale page, receipts and voids."""
from flask import Blueprint, abort, current_app, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select, update

from .. import clock
from .. import htmx
from ..beneficiaries.models import Beneficiary
from ..beneficiaries.queries import search
from ..catalogue.models import Product, ProductOffer
from ..database import begin_write
from ..extensions import db
from ..forms import HIDDEN, HIDDEN_CHARACTERS, parse_euros, record_id
from ..security import RELAY_ROLES, Role, get_scoped_or_404, no_store, roles_required, scoped
from ..stock.models import StockLevel
from ..stock.operations import serial_in_stock
from .forms import MAX_LINES, SaleDraft, new_draft, parse_draft
from .models import PAYMENT_METHODS, Sale
from .operations import LineRequest, SaleRefused, record_sale, refund_choice, void_sale

bp = Blueprint("sales", __name__, url_prefix="/sales")



bp.after_request(no_store)  # these pages name people


@bp.get("/")
@roles_required(*RELAY_ROLES)
def index():
    page = max(request.args.get("page", 1, type=record_id), 1)
    query = scoped(Sale).order_by(Sale.id.desc())
    sales = db.paginate(query, page=page, per_page=30, error_out=False)
    return htmx.render("sales/index.html", "sales", sales=sales)


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
        except SaleRefused as refusal:
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
    return htmx.render("sales/show.html", sale=sale, methods=PAYMENT_METHODS)


@bp.get("/<int:sale_id>/receipt.pdf")
@roles_required(*RELAY_ROLES)
def receipt_pdf(sale_id: int):
    from ..pdf import pdf_response
    from .documents import receipt_context

    sale = get_scoped_or_404(Sale, sale_id)
    # Every print is counted: the first is the original, the next ones are DUPLICATA 1, 2…
    begin_write()  # a GET that writes: on SQLite, wait for the write lock rather than fail at once
    db.session.execute(update(Sale).where(Sale.id == sale.id).values(print_count=Sale.print_count + 1))
    db.session.commit()
    return pdf_response("pdf/receipt.html", f"recu-{sale.number}.pdf",
                        **receipt_context(sale, sale.print_count - 1))


@bp.get("/<int:sale_id>/receipt")
@roles_required(*RELAY_ROLES)
def receipt(sale_id: int):
    from ..pdf import html_twin
    from .documents import receipt_context

    sale = get_scoped_or_404(Sale, sale_id)
    return html_twin("pdf/receipt.html", **receipt_context(sale, max(sale.print_count, 1)))


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
        except SaleRefused as refusal:
            error = refusal.message
        else:
            flash(f"Vente {sale.number} annulée par {voided.number}. Le stock a été rétabli.", "success")
            return htmx.redirect_to(url_for("sales.show", sale_id=sale.id))
    return htmx.render("sales/void.html", "form", sale=sale, error=error, reason=reason, token=token,
                       refund=refund_choice(sale), status=422 if error else 200)


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
