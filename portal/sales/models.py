"""Sales: numbered receipts, their lines and payments. A sale is never edited nor deleted;
a void is a new, linked, negative sale."""
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..clock import utcnow
from ..extensions import db


class ReceiptCounter(db.Model):
    """The last receipt number used by a relay in a year. Locked while a sale is recorded."""

    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(default=0)


class Sale(db.Model):
    """A recorded sale (or, with voids_sale_id, the void of one), numbered RELAY-YEAR-000123."""

    __table_args__ = (
        UniqueConstraint("relay_id", "year", "seq"),
        Index("ix_sale_relay_created", "relay_id", "created_at"),
        CheckConstraint("seq > 0", name="seq_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    relay_id: Mapped[int] = mapped_column(ForeignKey("relay.id"))
    year: Mapped[int]
    seq: Mapped[int]
    number: Mapped[str] = mapped_column(String(30), unique=True)
    # The one-time token of the form that recorded it: a replayed submission finds this sale.
    form_token: Mapped[str] = mapped_column(String(64), unique=True)
    beneficiary_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiary.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    total_cents: Mapped[int]  # negative for a void
    reference_total_cents: Mapped[int]
    change_cents: Mapped[int] = mapped_column(default=0)
    override_reason: Mapped[str] = mapped_column(String(300), default="")  # a manager lifted a cap
    voids_sale_id: Mapped[int | None] = mapped_column(ForeignKey("sale.id"), unique=True)
    void_reason: Mapped[str] = mapped_column(String(300), default="")
    # The till session it was recorded in (a void: the session open when it was recorded).
    cash_session_id: Mapped[int | None] = mapped_column(ForeignKey("cash_session.id"), index=True)
    replayed = False  # not stored: record_sale found this sale already recorded with the form's token

    relay = relationship("Relay")
    user = relationship("User")
    beneficiary = relationship("Beneficiary")
    lines: Mapped[list["SaleLine"]] = relationship(back_populates="sale", order_by="SaleLine.id")
    payments: Mapped[list["Payment"]] = relationship(back_populates="sale", order_by="Payment.id")
    voids: Mapped["Sale | None"] = relationship(
        remote_side=[id], foreign_keys=[voids_sale_id], back_populates="voided_by")
    voided_by: Mapped["Sale | None"] = relationship(
        foreign_keys=[voids_sale_id], back_populates="voids", uselist=False)
    prints: Mapped[list["ReceiptPrint"]] = relationship(order_by="ReceiptPrint.number", viewonly=True)

    @property
    def is_void(self) -> bool:
        return self.voids_sale_id is not None


class SaleLine(db.Model):
    """One product line, with the prices and name as they were at the time of sale."""

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("product.id"))
    label: Mapped[str] = mapped_column(String(120))
    category: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int]  # negative on a void
    unit_cents: Mapped[int]
    reference_unit_cents: Mapped[int]
    serial: Mapped[str] = mapped_column(String(40), default="")
    grade: Mapped[str] = mapped_column(String(1), default="")

    sale: Mapped[Sale] = relationship(back_populates="lines")
    product = relationship("Product")

    @property
    def total_cents(self) -> int:
        return self.quantity * self.unit_cents


class Payment(db.Model):
    """How (part of) a sale was paid: a method of portal.payments (never renamed, even retired)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id"), index=True)
    method: Mapped[str] = mapped_column(String(10))
    amount_cents: Mapped[int]  # negative on a void (money given back)
    given_cents: Mapped[int | None]  # cash handed over, for the change
    reference: Mapped[str] = mapped_column(String(40), default="")  # a cheque's number, a voucher's payer…

    sale: Mapped[Sale] = relationship(back_populates="payments")


class ReceiptPrint(db.Model):
    """One print of a sale's (or a void's) receipt: number 0 is the original, n ≥ 1 is "DUPLICATA n".

    A print is recorded by an explicit action; showing its PDF again writes nothing. Prints counted
    before each one was recorded have no date nor author."""

    __table_args__ = (CheckConstraint("number >= 0", name="number_not_negative"),)

    sale_id: Mapped[int] = mapped_column(ForeignKey("sale.id"), primary_key=True)
    number: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    printed_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    printed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))

    printed_by = relationship("User")

    @property
    def is_original(self) -> bool:
        return self.number == 0
