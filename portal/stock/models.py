"""Stock per relay: a ledger of movements, the level kept exact with them, and serial items."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db

MOVEMENT_KINDS = {
    "delivery": "Livraison", "sale": "Vente", "void": "Retour (annulation)", "transfer_in": "Transfert reçu",
    "transfer_out": "Transfert envoyé", "adjustment": "Ajustement d'inventaire",
}


class StockMovement(db.Model):
    """One change of a relay's stock of a product. Appended, never changed."""

    __table_args__ = (Index("ix_stock_movement_relay_product", "relay_id", "product_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    quantity: Mapped[int]  # positive in, negative out
    kind: Mapped[str] = mapped_column(String(20))
    reference: Mapped[str] = mapped_column(String(60), default="")  # delivery note, receipt number…
    reason: Mapped[str] = mapped_column(String(300), default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    product = relationship("Product")
    user = relationship("User")


class StockLevel(db.Model):
    """The current quantity, updated in the same transaction as each movement; the database
    itself refuses a negative stock."""

    __table_args__ = (CheckConstraint("quantity >= 0", name="never_negative"),)

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"), primary_key=True)
    quantity: Mapped[int] = mapped_column(default=0)

    product = relationship("Product")


class SerialItem(db.Model):
    """One tracked unit (SIM by ICCID, phone by IMEI, laptop by serial number)."""

    __table_args__ = (UniqueConstraint("product_id", "serial"), Index("ix_serial_item_relay_serial", "relay_id", "serial"))

    id: Mapped[int] = mapped_column(primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    serial: Mapped[str] = mapped_column(String(40))
    grade: Mapped[str] = mapped_column(String(1), default="")  # A/B/C for refurbished devices
    status: Mapped[str] = mapped_column(String(12), default="in_stock")  # in_stock / sold
    sale_line_id: Mapped[int | None] = mapped_column(ForeignKey("sale_line.id"))

    product = relationship("Product")
