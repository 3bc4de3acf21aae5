"""Recording a sale and voiding one: numbering, stock, ledger — one transaction, all or nothing."""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import clock, payments as methods
from ..beneficiaries.models import Beneficiary
from ..cash.operations import lock_relay, open_session_of
from ..catalogue.models import Product
from ..clock import utcnow
from ..database import write_transaction
from ..errors import Refused
from ..extensions import db
from ..ledger.operations import append_entry, register_source
from ..reports.operations import count_sale
from ..security import Role
from ..stock.models import SerialItem
from ..stock.operations import OutOfStock, move_stock
from .models import Payment, ReceiptCounter, Sale, SaleLine
from .rules import (MAX_QUANTITY, QUANTITY_RANGE, Offered, bill, euros, not_on_shelf, offer, out_of_stock,
                    sale_problems, serial_on_shelf)

NO_OPEN_SESSION = ("La caisse n'est pas ouverte : aucune vente ni annulation ne peut être enregistrée "
                   "avant qu'un·e référent·e ouvre une session de caisse.")


@dataclass
class LineRequest:
    product_id: int
    quantity: int = 1
    serial: str = ""


@dataclass
class PaymentRequest:
    method: str
    amount_cents: int
    given_cents: int | None = None
    reference: str = ""  # a cheque's number, a voucher's payer: for a method that asks for one


def record_sale(user, token: str, lines: list[LineRequest], payments: list[PaymentRequest],
                beneficiary_id: int | None = None, override_reason: str = "", at: datetime | None = None) -> Sale:
    """Record a sale of the user's relay, or return the sale already recorded with `token`.

    Receipt number, stock movements and ledger entry commit together or not at all. `at` (naive
    UTC, default now) only serves the demo data, which records past weeks through this path."""
    try:
        with write_transaction():
            existing = _sale_with_token(token)
            if existing:
                return _replayed(existing)
            relay_id = user.relay_id
            at = at or utcnow()
            session_id = _open_session(relay_id)
            counter = _lock_counter(relay_id, clock.local_day(at).year)  # the receipt year is the local one
            existing = _sale_with_token(token)  # a twin request may have committed while we waited
            if existing:
                return _replayed(existing)
            person = _beneficiary(relay_id, beneficiary_id)
            offered = _offered_products(relay_id, lines)
            for problem in sale_problems(user, person, offered, lines, override_reason)[:1]:
                raise Refused(problem.message, problem.field)
            products = {product_id: product for product_id, (product, _) in offered.items()}
            sale = _insert_sale(user, counter, session_id, token, person, offered, lines, payments, override_reason,
                                at)
            _take_stock(sale, products)
            append_entry(relay_id, "sale", sale.id, sale_payload(sale))
            count_sale(sale)
            if person:
                person.last_activity_at = utcnow()
            return sale
    except IntegrityError:
        existing = _sale_with_token(token)
        if existing:
            return _replayed(existing)
        raise


def void_sale(user, sale: Sale, reason: str, token: str, refund_method: str | None = None) -> Sale:
    """Record the void of `sale` (managers): a new linked negative sale that returns the stock,
    in the open cash session. The money goes back as `refund_method` (refund_methods(sale)),
    by default as it was paid for a sale of this session, in cash for one of an earlier session."""
    if user.role != Role.MANAGER:
        raise Refused("Seul·e un·e référent·e peut annuler une vente.")
    if not reason.strip():
        raise Refused("Indiquez le motif de l'annulation.", "reason")
    with write_transaction():
        existing = _sale_with_token(token)
        if existing:
            return existing
        session_id = _open_session(sale.relay_id)
        counter = _lock_counter(sale.relay_id, clock.today().year)
        db.session.refresh(sale)
        if sale.is_void or sale.voided_by is not None:
            raise Refused("Cette vente est déjà annulée." if sale.voided_by else "Une annulation ne s'annule pas.")
        counter.last_seq += 1
        void = Sale(relay_id=sale.relay_id, year=counter.year, seq=counter.last_seq,
                    number=receipt_number(sale.relay.code, counter.year, counter.last_seq), form_token=token,
                    beneficiary_id=sale.beneficiary_id, user_id=user.id, total_cents=-sale.total_cents,
                    reference_total_cents=-sale.reference_total_cents, voids_sale_id=sale.id,
                    void_reason=reason.strip()[:300], cash_session_id=session_id)
        db.session.add(void)
        for line in sale.lines:
            void.lines.append(SaleLine(product_id=line.product_id, label=line.label, category=line.category,
                                       quantity=-line.quantity, unit_cents=line.unit_cents,
                                       reference_unit_cents=line.reference_unit_cents, serial=line.serial,
                                       grade=line.grade))
        void.payments.extend(_refund(sale, session_id, refund_method))
        db.session.flush()
        for line in sale.lines:
            move_stock(sale.relay_id, line.product_id, line.quantity, "void", user.id, void.number, reason)
            if line.serial:
                item = db.session.scalar(select(SerialItem).where(SerialItem.sale_line_id == line.id))
                if item:
                    item.status, item.sale_line_id = "in_stock", None
        append_entry(sale.relay_id, "void", void.id, sale_payload(void))
        count_sale(void)
        return void


def receipt_number(relay_code: str, year: int, seq: int) -> str:
    return f"{relay_code}-{year}-{seq:06d}"


def sale_payload(sale: Sale) -> dict:
    """What the ledger seals of a sale or void: everything a receipt states."""
    return {
        "number": sale.number, "relay_id": sale.relay_id, "at": sale.created_at.isoformat(),
        "beneficiary_id": sale.beneficiary_id, "user_id": sale.user_id, "total": sale.total_cents,
        "reference_total": sale.reference_total_cents, "change": sale.change_cents,
        "voids": sale.voids_sale_id, "void_reason": sale.void_reason, "override": sale.override_reason,
        "lines": [[line.product_id, line.label, line.quantity, line.unit_cents, line.reference_unit_cents,
                   line.serial] for line in sale.lines],
        # The fourth item was the cheque number; its value, now `reference`, is the same for every sale.
        "payments": [[p.method, p.amount_cents, p.given_cents, p.reference] for p in sale.payments],
    }


def _replayed(sale: Sale) -> Sale:
    sale.replayed = True
    return sale


def _sale_with_token(token: str) -> Sale | None:
    return db.session.scalar(select(Sale).where(Sale.form_token == token))


def _open_session(relay_id: int) -> int:
    """The id of the relay's open cash session; a sale or void is refused without one. The relay
    row is locked first, as the closing does, so that a closing and a sale take turns."""
    lock_relay(relay_id)
    session = open_session_of(relay_id)
    if session is None:
        raise Refused(NO_OPEN_SESSION)
    return session.id


def refund_methods(sale: Sale, session_id: int | None) -> list[str]:
    """How the money of `sale` can go back: the refund methods, plus the original's methods when
    the sale belongs to the open session `session_id` (its money is still in the till)."""
    codes = [method.code for method in methods.METHODS if method.refund and not method.retired]
    if sale.cash_session_id is not None and sale.cash_session_id == session_id:
        codes += [p.method for p in sale.payments if p.method not in codes and p.method != methods.FREE]
    return codes


def refund_choice(sale: Sale) -> dict:
    """The void form's refund methods for `sale` ({code: label}) and the default one (None: as paid)."""
    session = open_session_of(sale.relay_id)
    session_id = session.id if session else None
    same_session = sale.cash_session_id is not None and sale.cash_session_id == session_id
    codes = refund_methods(sale, session_id) if sale.total_cents else []
    return {"methods": {code: methods.label(code) for code in codes},
            "default": None if same_session else methods.CASH, "same_session": same_session}


def _refund(sale: Sale, session_id: int, method: str | None) -> list[Payment]:
    same_session = sale.cash_session_id == session_id
    if sale.total_cents == 0 or (method is None and same_session):
        return [Payment(method=p.method, amount_cents=-p.amount_cents) for p in sale.payments]
    method = method or methods.CASH
    if method not in refund_methods(sale, session_id):
        raise Refused("Ce moyen de remboursement n'est pas possible pour cette vente.", "refund_method")
    return [Payment(method=method, amount_cents=-sale.total_cents)]


def _lock_counter(relay_id: int, year: int) -> ReceiptCounter:
    """The relay's counter for the year, locked until commit (row lock; SQLite holds the write lock)."""
    query = select(ReceiptCounter).where(ReceiptCounter.relay_id == relay_id, ReceiptCounter.year == year)
    counter = db.session.scalar(query.with_for_update())
    if counter is None:
        try:
            with db.session.begin_nested():
                db.session.add(ReceiptCounter(relay_id=relay_id, year=year, last_seq=0))
        except IntegrityError:
            pass  # another transaction created it first
        counter = db.session.scalar(query.with_for_update())
    return counter


def _beneficiary(relay_id: int, beneficiary_id: int | None) -> Beneficiary | None:
    if not beneficiary_id:
        return None
    person = db.session.get(Beneficiary, beneficiary_id)
    if person is None or person.relay_id != relay_id or person.anonymised_at:
        raise Refused("Personne introuvable dans votre structure.", "beneficiary_id")
    return person


def _offered_products(relay_id: int, lines: list[LineRequest]) -> dict[int, Offered]:
    if not lines:
        raise Refused("Ajoutez au moins un produit.", "lines")
    offered = offer(relay_id, {line.product_id for line in lines})
    for line in lines:
        if line.product_id not in offered:
            raise Refused("Ce produit n'est pas proposé par votre structure.", "lines")
        if not 1 <= line.quantity <= MAX_QUANTITY:
            raise Refused(QUANTITY_RANGE, "lines")
        if offered[line.product_id].product.is_tracked and line.quantity != 1:
            raise Refused(f"{offered[line.product_id].product.name} : une ligne par numéro de série.", "lines")
    return offered


def _insert_sale(user, counter, session_id, token, person, offered, lines, payments, override_reason, at) -> Sale:
    amounts = bill(lines, offered)
    total, reference = amounts.total, amounts.reference
    payment_rows, change = _payments(total, payments)
    counter.last_seq += 1
    sale = Sale(relay_id=counter.relay_id, year=counter.year, seq=counter.last_seq,
                number=receipt_number(user.relay.code, counter.year, counter.last_seq), form_token=token,
                beneficiary_id=person.id if person else None, user_id=user.id, total_cents=total, created_at=at,
                reference_total_cents=reference, change_cents=change,
                override_reason=override_reason.strip()[:300] if user.role == Role.MANAGER else "",
                cash_session_id=session_id)
    for line in lines:
        product = offered[line.product_id].product
        sale.lines.append(SaleLine(product_id=product.id, label=product.name, category=product.category,
                                   quantity=line.quantity, unit_cents=product.price_cents,
                                   reference_unit_cents=product.reference_cents, serial=line.serial.strip()))
    sale.payments.extend(payment_rows)
    db.session.add(sale)
    db.session.flush()
    return sale


def _payments(total: int, payments: list[PaymentRequest]) -> tuple[list[Payment], int]:
    """Check that the payments settle the total exactly; the rows and the change to give back."""
    payments = [p for p in payments if p.amount_cents]
    if total == 0:
        return [Payment(method=methods.FREE, amount_cents=0)], 0
    if not payments:
        raise Refused("Indiquez le paiement.", "payments")
    offered = {method.code: method for method in methods.at_the_till()}
    if any(p.amount_cents < 0 or p.method not in offered for p in payments):
        raise Refused("Moyen de paiement ou montant non valide.", "payments")
    paid = sum(p.amount_cents for p in payments)
    if paid != total:
        raise Refused(f"Les paiements ({euros(paid)} €) ne correspondent pas au total ({euros(total)} €).",
                      "payments")
    change = 0
    rows = []
    for p in payments:
        method = offered[p.method]
        reference = p.reference.strip()[:methods.REFERENCE_LENGTH] if method.reference else ""
        if method.reference and not reference:
            raise Refused(reference_missing(method), f"reference_{method.code}")
        given = None
        if method.code == methods.CASH:
            given = p.given_cents if p.given_cents is not None else p.amount_cents
            if given < p.amount_cents:
                raise Refused("La somme donnée en espèces est inférieure au montant dû.", "cash_given")
            change += given - p.amount_cents
        rows.append(Payment(method=method.code, amount_cents=p.amount_cents, given_cents=given, reference=reference))
    return rows, change


def reference_missing(method) -> str:
    """The refusal of a payment by `method` without the reference it asks for."""
    return f"{method.label} : indiquez « {method.reference} »."


def _take_stock(sale: Sale, products: dict[int, Product]) -> None:
    for line in sale.lines:
        product = products[line.product_id]
        if product.is_tracked:
            item = serial_on_shelf(sale.relay_id, product, line.serial)
            if item is None:
                raise Refused(not_on_shelf(product, line.serial), "lines")
            item.status, item.sale_line_id = "sold", line.id
            line.serial, line.grade = item.serial, item.grade
        try:
            move_stock(sale.relay_id, product.id, -line.quantity, "sale", sale.user_id, sale.number)
        except OutOfStock:
            raise Refused(out_of_stock(product), "lines") from None


def _sealed_payloads(kind: str, sale_ids: list[int]) -> dict[int, dict]:
    """The payloads of the sales (or voids) still there, with their lines and payments: three queries."""
    sales = db.session.scalars(select(Sale).where(Sale.id.in_(sale_ids))
                               .options(selectinload(Sale.lines), selectinload(Sale.payments)))
    return {sale.id: sale_payload(sale) for sale in sales if kind == ("void" if sale.is_void else "sale")}


def _relay_sales(relay_id: int) -> set[tuple[str, int]]:
    rows = db.session.execute(select(Sale.id, Sale.voids_sale_id).where(Sale.relay_id == relay_id))
    return {("void" if voids else "sale", sale_id) for sale_id, voids in rows}


register_source(("sale", "void"), _sealed_payloads, _relay_sales)
