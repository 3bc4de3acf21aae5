"""The catalogue (coordinators and admins): products, prices, limits, and the relays that offer them."""
from flask import Blueprint, flash, url_for
from sqlalchemy import func, select

from .. import htmx
from ..audit.operations import record_event
from ..extensions import db
from ..relays.models import Relay
from ..security import Role, roles_required, scope_clause, scoped
from ..stock.models import StockMovement
from ..stock.operations import stock_level
from .forms import PRODUCT_FIELDS, ProductForm
from .models import TRACKING, Product, ProductOffer

bp = Blueprint("catalogue", __name__, url_prefix="/catalogue")

MANAGERS = (Role.COORDINATOR, Role.ADMIN)


@bp.get("/")
@roles_required(*MANAGERS)
def index():
    products = db.session.scalars(
        select(Product).order_by(Product.active.desc(), Product.category, Product.name)).all()
    offers = dict(db.session.execute(
        select(ProductOffer.product_id, func.count()).where(scope_clause(ProductOffer))
        .group_by(ProductOffer.product_id)).all())
    return htmx.render("catalogue/index.html", products=products, offers=offers, tracking=TRACKING)


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:product_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit(product_id: int | None = None):
    product = db.get_or_404(Product, product_id) if product_id else Product()
    relays = db.session.scalars(scoped(Relay).order_by(Relay.name)).all()
    form = ProductForm(obj=product if product_id else None)
    form.relay_ids.choices = [(r.id, r.name if r.active else f"{r.name} (inactive)") for r in relays]
    if not form.is_submitted():
        form.relay_ids.data = [o.relay_id for o in product.offers if o.relay_id in {r.id for r in relays}]
    if form.validate_on_submit() and _is_unique(form, product) and _changes_are_possible(form, product, relays):
        _save(form, product, relays)
        flash(f"Produit « {product.name} » enregistré.", "success")
        return htmx.redirect_to(url_for("catalogue.index"))
    status = 422 if form.is_submitted() else 200
    return htmx.render("catalogue/form.html", "form", form=form, product=product, status=status)


def _is_unique(form: ProductForm, product: Product) -> bool:
    clash = select(Product.id).where(Product.code == form.code.data)
    if product.id:
        clash = clash.where(Product.id != product.id)
    if db.session.scalar(clash):
        form.code.errors.append("Ce code est déjà utilisé par un autre produit.")
        return False
    return True


def _changes_are_possible(form: ProductForm, product: Product, relays: list[Relay]) -> bool:
    """Tracking is fixed once stock has moved; an offer is withdrawn only from an empty shelf."""
    possible = True
    moved = product.id and db.session.scalar(
        select(StockMovement.id).where(StockMovement.product_id == product.id).limit(1))
    if moved and form.tracking.data != product.tracking:
        form.tracking.errors.append("Le suivi ne peut plus changer : ce produit a déjà des mouvements de stock.")
        possible = False
    wanted = set(form.relay_ids.data or [])
    for offer in product.offers:
        relay = next((r for r in relays if r.id == offer.relay_id), None)
        if relay is None or relay.id in wanted:
            continue
        left = stock_level(relay.id, product.id)
        if left:
            form.relay_ids.errors.append(
                f"Encore {left} en stock à {relay.name} : transférez ou ajustez ce stock avant de retirer le produit.")
            possible = False
    return possible


def _save(form: ProductForm, product: Product, relays: list[Relay]) -> None:
    """Write the product and the offers of the relays the user may see; others stay as they are."""
    for name in PRODUCT_FIELDS:
        setattr(product, name, form[name].data)
    visible = {r.id for r in relays}
    wanted = set(form.relay_ids.data or []) & visible
    offered = {o.relay_id: o for o in product.offers}
    added = sorted(wanted - offered.keys())
    removed = sorted((offered.keys() & visible) - wanted)
    product.offers.extend(ProductOffer(relay_id=relay_id) for relay_id in added)
    for relay_id in removed:
        product.offers.remove(offered[relay_id])
    db.session.add(product)
    db.session.flush()
    record_event("product.save", subject=f"product:{product.id}",
                 detail=f"{product.code} {product.name} prix={product.price_cents} actif={product.active}"
                        f" structures+={added} structures-={removed}")
    db.session.commit()
