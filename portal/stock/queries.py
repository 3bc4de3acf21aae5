"""Reading stock: a relay's shelf with its low-stock flags, and low-stock counts per relay."""
from sqlalchemy import and_, case, func, select

from ..catalogue.models import Product, ProductOffer
from ..extensions import db
from .models import StockLevel

QUANTITY = func.coalesce(StockLevel.quantity, 0)


def is_low():
    """The one low-stock rule: an active product at or below its threshold at the relay."""
    return and_(Product.active, QUANTITY <= ProductOffer.low_stock_threshold)


def _offers(*columns):
    """`columns` selected over the offers, joined to their product and (when any) stock level."""
    return (select(*columns).select_from(ProductOffer).join(Product, Product.id == ProductOffer.product_id)
            .outerjoin(StockLevel, and_(StockLevel.relay_id == ProductOffer.relay_id,
                                        StockLevel.product_id == ProductOffer.product_id)))


def relay_stock(relay_id: int) -> list:
    """Rows (product, threshold, quantity, low) for each product the relay offers."""
    query = (_offers(Product, ProductOffer.low_stock_threshold.label("threshold"), QUANTITY.label("quantity"),
                     case((is_low(), 1), else_=0).label("low"))
             .where(ProductOffer.relay_id == relay_id).order_by(Product.active.desc(), Product.name))
    return db.session.execute(query).all()


def low_stock_counts(relay_ids: list[int]) -> dict[int, int]:
    """How many products run low at each of these relays (relays with none are left out)."""
    query = (_offers(ProductOffer.relay_id, func.count())
             .where(ProductOffer.relay_id.in_(relay_ids), is_low()).group_by(ProductOffer.relay_id))
    return dict(db.session.execute(query).all())
