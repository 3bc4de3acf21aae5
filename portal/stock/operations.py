"""Moving stock: every change is a movement plus an exact level, in the caller's transaction."""
from sqlalchemy import select, update

from ..extensions import db
from .models import SerialItem, StockLevel, StockMovement


class OutOfStock(Exception):
    """Not enough units of a product at a relay."""

    def __init__(self, product_id: int, missing: int):
        super().__init__(product_id, missing)
        self.product_id = product_id


def move_stock(relay_id: int, product_id: int, quantity: int, kind: str, user_id: int | None,
               reference: str = "", reason: str = "") -> StockMovement:
    """Add (quantity > 0) or take (< 0) units; OutOfStock when taking more than there is.

    The level is changed by one conditional UPDATE, atomic on SQLite and PostgreSQL alike, and
    the database's CHECK (quantity >= 0) stands behind it."""
    if quantity < 0:
        taken = db.session.execute(
            update(StockLevel)
            .where(StockLevel.relay_id == relay_id, StockLevel.product_id == product_id,
                   StockLevel.quantity >= -quantity)
            .values(quantity=StockLevel.quantity + quantity)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:
            raise OutOfStock(product_id, -quantity)
    else:
        level = db.session.get(StockLevel, (relay_id, product_id), with_for_update=True)
        if level is None:
            db.session.add(StockLevel(relay_id=relay_id, product_id=product_id, quantity=quantity))
        else:
            level.quantity += quantity
    movement = StockMovement(relay_id=relay_id, product_id=product_id, quantity=quantity, kind=kind,
                             user_id=user_id, reference=reference[:60], reason=reason[:300])
    db.session.add(movement)
    return movement


def stock_level(relay_id: int, product_id: int) -> int:
    return db.session.scalar(
        select(StockLevel.quantity).where(StockLevel.relay_id == relay_id, StockLevel.product_id == product_id)
    ) or 0


def serial_in_stock(relay_id: int, serial: str) -> SerialItem | None:
    """The unit with this serial number on the relay's shelf, if any."""
    return db.session.scalar(
        select(SerialItem).where(SerialItem.relay_id == relay_id, SerialItem.serial == serial,
                                 SerialItem.status == "in_stock")
    )
