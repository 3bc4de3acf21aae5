"""Stock of the relays: levels and movements (everyone, in their scope), deliveries and transfers
(coordination), counts and low-stock thresholds (managers and coordination)."""
from flask import Blueprint, flash, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from .. import htmx
from ..catalogue.models import Product, ProductOffer
from ..errors import Refused
from ..extensions import db
from ..forms import record_id
from ..relays.models import Relay
from ..security import Role, get_scoped_or_404, roles_required, scope_clause, scoped
from .forms import NO_CHOICE, AdjustForm, DeliveryForm, TransferForm, shorten, thresholds_form
from .models import MOVEMENT_KINDS, SerialItem, StockMovement
from .operations import adjust_stock, deliver, set_thresholds, transfer_stock
from .queries import low_stock_counts, relay_stock

bp = Blueprint("stock", __name__, url_prefix="/stock")

STAFF = (Role.VOLUNTEER, Role.MANAGER, Role.COORDINATOR, Role.ADMIN)
COUNTERS = (Role.MANAGER, Role.COORDINATOR, Role.ADMIN)  # counts and thresholds
COORDINATION = (Role.COORDINATOR, Role.ADMIN)  # deliveries and transfers
PAGE_SIZE = 50


@bp.get("/")
@roles_required(*STAFF)
def index():
    relay_id = request.args.get("relay", type=record_id) or current_user.relay_id
    relay = get_scoped_or_404(Relay, relay_id) if relay_id else None
    relays = [] if current_user.works_in_relay else db.session.scalars(scoped(Relay).order_by(Relay.name)).all()
    return htmx.render("stock/index.html", "levels", relay=relay, relays=relays,
                       rows=relay_stock(relay.id) if relay else [],
                       low_counts=low_stock_counts([r.id for r in relays]))


@bp.get("/<int:relay_id>/movements")
@roles_required(*STAFF)
def movements(relay_id: int):
    relay = get_scoped_or_404(Relay, relay_id)
    product = db.session.get(Product, request.args.get("product", 0, type=record_id))
    page = max(request.args.get("page", 1, type=record_id), 1)
    query = (select(StockMovement).where(StockMovement.relay_id == relay.id)
             .options(joinedload(StockMovement.product), joinedload(StockMovement.user))
             .order_by(StockMovement.id.desc()))
    if product:
        query = query.where(StockMovement.product_id == product.id)
    moves = db.paginate(query, page=page, per_page=PAGE_SIZE, error_out=False)
    return htmx.render("stock/movements.html", relay=relay, product=product, moves=moves, kinds=MOVEMENT_KINDS)


@bp.route("/deliveries/new", methods=["GET", "POST"])
@roles_required(*COORDINATION)
def new_delivery():
    # A GET with a relay in its query string preselects it (links from a stock page, relay changed).
    form = DeliveryForm(request.args) if request.method == "GET" and request.args else DeliveryForm()
    form.relay_id.choices = _relay_choices()
    form.product_id.choices = _product_choices(form.relay_id.data)
    if form.validate_on_submit():
        relay, product = db.session.get(Relay, form.relay_id.data), db.session.get(Product, form.product_id.data)
        lines = form.check_lines(product) if _offered(form.product_id, product, relay) else None
        if lines is not None and _serials_are_new(form, product, lines):
            try:
                deliver(current_user, relay.id, product, form.note.data, form.quantity.data,
                        [serial for _, serial in lines], form.grade.data)
            except Refused as refusal:
                form.serials.errors.append(refusal.message)
            else:
                flash(f"Livraison enregistrée : {len(lines) or form.quantity.data} × {product.name} "
                      f"pour {relay.name}.", "success")
                return htmx.redirect_to(_stock_page(relay.id))
    status = 422 if form.is_submitted() else 200
    return htmx.render("stock/delivery.html", "form", form=form, status=status)


@bp.route("/<int:relay_id>/adjust", methods=["GET", "POST"])
@roles_required(*COUNTERS)
def adjust(relay_id: int):
    relay = get_scoped_or_404(Relay, relay_id)
    form = AdjustForm(request.args) if request.method == "GET" and request.args else AdjustForm()
    form.product_id.choices = [(NO_CHOICE, "—")] + [
        (row.Product.id, f"{row.Product.name} ({row.quantity} en stock)") for row in relay_stock(relay.id)]
    if form.validate_on_submit():
        product = db.session.get(Product, form.product_id.data)
        if product.is_tracked:
            form.product_id.errors.append("Ce produit est suivi par numéro de série : "
                                          "son inventaire se fait numéro par numéro, pas par quantité.")
        else:
            try:
                adjust_stock(current_user, relay.id, product, form.counted.data, form.reason.data)
            except Refused as refusal:
                form.counted.errors.append(refusal.message)
            else:
                flash(f"Stock de {product.name} ramené à {form.counted.data}.", "success")
                return htmx.redirect_to(_stock_page(relay.id))
    status = 422 if form.is_submitted() else 200
    return htmx.render("stock/adjust.html", "form", form=form, relay=relay, status=status)


@bp.route("/transfers/new", methods=["GET", "POST"])
@roles_required(*COORDINATION)
def new_transfer():
    form = TransferForm(request.args) if request.method == "GET" and request.args else TransferForm()
    form.source_id.choices = form.destination_id.choices = _relay_choices()
    form.product_id.choices = _product_choices(form.source_id.data, untracked=True)
    if form.validate_on_submit():
        source, destination = db.session.get(Relay, form.source_id.data), db.session.get(Relay, form.destination_id.data)
        product = db.session.get(Product, form.product_id.data)
        offered = _offered(form.product_id, product, source) and _offered(form.product_id, product, destination)
        if offered and product.is_tracked:
            form.product_id.errors.append("Ce produit est suivi par numéro de série : il ne se transfère pas ici.")
        elif offered:
            try:
                transfer_stock(current_user, source, destination, product, form.quantity.data)
            except Refused as refusal:
                form.quantity.errors.append(refusal.message)
            else:
                flash(f"Transfert enregistré : {form.quantity.data} × {product.name} de {source.name} "
                      f"vers {destination.name}.", "success")
                return htmx.redirect_to(_stock_page(source.id))
    status = 422 if form.is_submitted() else 200
    return htmx.render("stock/transfer.html", "form", form=form, status=status)


@bp.route("/<int:relay_id>/thresholds", methods=["GET", "POST"])
@roles_required(*COUNTERS)
def thresholds(relay_id: int):
    relay = get_scoped_or_404(Relay, relay_id)
    offers = db.session.scalars(
        select(ProductOffer).join(Product).where(ProductOffer.relay_id == relay.id)
        .options(joinedload(ProductOffer.product)).order_by(Product.name)).all()
    form = thresholds_form(offers)
    if form.validate_on_submit():
        changed = set_thresholds(current_user, relay.id,
                                 {o.product_id: form[f"threshold_{o.product_id}"].data for o in offers})
        flash(f"Seuils d'alerte enregistrés ({changed} modifié{'s' if changed > 1 else ''}).", "success")
        return htmx.redirect_to(_stock_page(relay.id))
    status = 422 if form.is_submitted() else 200
    return htmx.render("stock/thresholds.html", "form", form=form, relay=relay, offers=offers, status=status)


def _stock_page(relay_id: int) -> str:
    """The stock page of a relay, as its own staff or the coordination reach it."""
    if current_user.works_in_relay:
        return url_for("stock.index")
    return url_for("stock.index", relay=relay_id)


def _relay_choices() -> list[tuple[int, str]]:
    relays = db.session.scalars(scoped(Relay).where(Relay.active).order_by(Relay.name))
    return [(NO_CHOICE, "—")] + [(r.id, r.name) for r in relays]


def _product_choices(relay_id: int | None, untracked: bool = False) -> list[tuple[int, str]]:
    """Active products offered by the relay (by any visible relay until one is chosen)."""
    query = (select(Product).join(ProductOffer).where(Product.active, scope_clause(ProductOffer))
             .distinct().order_by(Product.name))
    if relay_id:
        query = query.where(ProductOffer.relay_id == relay_id)
    if untracked:
        query = query.where(Product.tracking == "none")
    products = db.session.scalars(query)
    return [(NO_CHOICE, "—")] + [(p.id, f"{p.name} ({p.code})" + (" · par numéro" if p.is_tracked else ""))
                                 for p in products]


def _offered(field, product: Product | None, relay: Relay) -> bool:
    """The product exists, is active and offered by the relay; otherwise say so next to `field`."""
    if product is None or not product.active:
        field.errors.append("Choisissez un produit actif du catalogue.")
        return False
    if not db.session.get(ProductOffer, (product.id, relay.id)):
        field.errors.append(f"{product.name} n'est pas proposé par {relay.name} : ajoutez-le dans le catalogue.")
        return False
    return True


def _serials_are_new(form: DeliveryForm, product: Product, lines: list[tuple[int, str]]) -> bool:
    """No serial number is already known for this product; otherwise name each line."""
    if not lines:
        return True
    taken = set(db.session.scalars(select(SerialItem.serial).where(
        SerialItem.product_id == product.id, SerialItem.serial.in_([serial for _, serial in lines]))))
    form.serials.errors.extend(shorten([f"Ligne {number} : {serial} — déjà enregistré pour ce produit."
                                        for number, serial in lines if serial in taken]))
    return not taken
