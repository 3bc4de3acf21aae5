"""The catalogue: what relays sell or give, at which solidarity price, within which limits."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db

CATEGORIES = {
    "sim": "Carte SIM",
    "recharge": "Recharge",
    "plan": "Forfait mobile",
    "free_sim": "Carte SIM d'urgence gratuite",
    "smartphone": "Smartphone reconditionné",
    "laptop": "Ordinateur portable reconditionné",
    "accessory": "Accessoire",
    "other": "Autre",
}
TRACKING = {"none": "Aucun", "iccid": "ICCID (carte SIM)", "imei": "IMEI (téléphone)", "serial": "Numéro de série"}
DEVICE_CATEGORIES = ("smartphone", "laptop")


class Product(db.Model):
    """A catalogue product. Prices in cents; never deleted (old receipts refer to it)."""

    __table_args__ = (
        CheckConstraint("price_cents >= 0 AND reference_cents >= 0", name="prices_positive"),
        CheckConstraint(f"category IN {tuple(CATEGORIES)}", name="category_known"),
        CheckConstraint(f"tracking IN {tuple(TRACKING)}", name="tracking_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(20))
    price_cents: Mapped[int]
    reference_cents: Mapped[int]
    tracking: Mapped[str] = mapped_column(String(10), default="none")
    eligibility_required: Mapped[bool] = mapped_column(default=True)
    # At most this many units per person, ever (e.g. one free emergency SIM); None: no limit.
    limit_per_person: Mapped[int | None]
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    offers: Mapped[list["ProductOffer"]] = relationship(back_populates="product", cascade="all, delete-orphan")

    @property
    def category_label(self) -> str:
        return CATEGORIES[self.category]

    @property
    def is_tracked(self) -> bool:
        return self.tracking != "none"


class ProductOffer(db.Model):
    """A product offered by one relay, with its low-stock threshold there."""

    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    low_stock_threshold: Mapped[int] = mapped_column(default=5)

    product: Mapped[Product] = relationship(back_populates="offers")
    relay = relationship("Relay")
