"""Moving stock: every change is a movement plus an exact level, in the caller's transaction;
and the stock operations of the coordination and managers (deliveries, counts, transfers), each
one write transaction, all or nothing."""
import re

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from ..audit.operations import record_event
from ..catalogue.models import ProductOffer
from ..database import write_transaction
from ..errors import Refused
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
    """The unit with this serial number on the relay's shelf, if any. ICCIDs and IMEIs are kept
    as digits only, so "8933 1503 …" typed with spaces finds them too."""
    digits = re.sub(r"[\s.-]", "", serial)
    candidates = {serial, digits} if digits.isdecimal() else {serial}
    return db.session.scalar(
        select(SerialItem).where(SerialItem.relay_id == relay_id, SerialItem.serial.in_(candidates),
                                 SerialItem.status == "in_stock")
    )


def deliver(user, relay_id: int, product, note: str, quantity: int, serials: list[str] = (),
            grade: str = "") -> StockMovement:
    """Record a delivery from the coordination: one movement and, for tracked products, one unit
    per serial number (then the quantity is their count). All or nothing."""
    try:
        with write_transaction():
            if serials:
                quantity = len(serials)
                db.session.add_all(SerialItem(product_id=product.id, relay_id=relay_id, serial=serial,
                                              grade=grade, status="in_stock") for serial in serials)
            movement = move_stock(relay_id, product.id, quantity, "delivery", user.id, reference=note)
            record_event("stock.delivery", subject=f"relay:{relay_id}",
                         detail=f"{product.code} +{quantity} bon {note}")
            return movement
    except IntegrityError:
        raise Refused("Un de ces numéros vient d'être enregistré par ailleurs : "
                      "vérifiez la liste et recommencez.") from None


def adjust_stock(user, relay_id: int, product, counted: int, reason: str) -> StockMovement:
    """Bring the stock to the quantity counted on the shelf, with the reason of the difference."""
    with write_transaction():
        current = db.session.scalar(
            select(StockLevel.quantity).where(StockLevel.relay_id == relay_id, StockLevel.product_id == product.id)
            .with_for_update()) or 0
        if counted == current:
            raise Refused(f"Le stock est déjà de {current}.")
        movement = move_stock(relay_id, product.id, counted - current, "adjustment", user.id, reason=reason)
        record_event("stock.adjustment", subject=f"relay:{relay_id}",
                     detail=f"{product.code} {current} → {counted} : {reason}")
        return movement


def transfer_stock(user, source, destination, product, quantity: int) -> None:
    """Move units from one relay to another: out of the source and into the destination together."""
    try:
        with write_transaction():
            reference = f"{source.code} → {destination.code}"
            move_stock(source.id, product.id, -quantity, "transfer_out", user.id, reference=reference)
            move_stock(destination.id, product.id, quantity, "transfer_in", user.id, reference=reference)
            record_event("stock.transfer", subject=f"relay:{source.id}",
                         detail=f"{product.code} {quantity} {reference}")
    except OutOfStock:
        left = stock_level(source.id, product.id)
        raise Refused(f"Stock insuffisant à {source.name} : {left} disponible{'s' if left > 1 else ''}.") from None


def set_thresholds(user, relay_id: int, thresholds: dict[int, int]) -> int:
    """Set the low-stock threshold of each product (by id) offered by a relay; how many changed."""
    with write_transaction():
        offers = db.session.scalars(select(ProductOffer).where(ProductOffer.relay_id == relay_id,
                                                               ProductOffer.product_id.in_(thresholds)))
        changed = {}
        for offer in offers:
            if offer.low_stock_threshold != thresholds[offer.product_id]:
                offer.low_stock_threshold = changed[offer.product_id] = thresholds[offer.product_id]
        if changed:
            record_event("stock.thresholds", subject=f"relay:{relay_id}", detail=str(changed))
        return len(changed)
