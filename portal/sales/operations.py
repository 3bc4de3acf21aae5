"""Recording a sale and voiding one: numbering, stock, ledger — one transaction, all or nothing."""
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..beneficiaries.models import Beneficiary
from ..cash.models import CashSession
from ..catalogue.models import Product, ProductOffer
from .. import clock, payments
from ..clock import utcnow
from ..database import begin_write
from ..extensions import db
from ..ledger.operations import append_entry, register_source
from ..relays.models import Relay
from ..reports.operations import count_sale
from ..security import Role
from ..stock.models import SerialItem
from ..stock.operations import OutOfStock, move_stock, serial_in_stock
from .models import Payment, ReceiptCounter, Sale, SaleLine


NO_OPEN_SESSION = ("La caisse n'est pas ouverte : aucune vente ni annulation ne peut être enregistrée "
                   "avant qu'un·e référent·e ouvre une session de caisse.")


class SaleRefused(Exception):
    """The sale cannot be recorded; `message` says why in French, `field` where (if known)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


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
    cheque_number: str = ""


def record_sale(user, token: str, lines: list[LineRequest], payments: list[PaymentRequest],
                beneficiary_id: int | None = None, override_reason: str = "", at: datetime | None = None) -> Sale:
    """Record a sale of the user's relay, or return the sale already recorded with `token`.

    Receipt number, stock movements and ledger entry commit together or not at all. `at` (naive
    UTC, default now) only serves the demo data, which records past weeks through this path."""
    begin_write()
    try:
        existing = _sale_with_token(token)
        if existing:
            return existing
        relay_id = user.relay_id
        at = at or utcnow()
        session_id = _open_session(relay_id)
        counter = _lock_counter(relay_id, clock.local_day(at).year)  # the receipt year is the local one
        existing = _sale_with_token(token)  # a twin request may have committed while we waited
        if existing:
            db.session.rollback()
            return existing
        person = _beneficiary(relay_id, beneficiary_id)
        products = _offered_products(relay_id, lines)
        _check_rights(user, person, products, lines, override_reason)
        sale = _insert_sale(user, counter, token, person, products, lines, payments, override_reason, at)
        sale.cash_session_id = session_id
        _take_stock(sale, products)
        append_entry(relay_id, "sale", sale.id, sale_payload(sale))
        count_sale(sale)
        if person:
            person.last_activity_at = utcnow()
        db.session.commit()
        return sale
    except IntegrityError:
        db.session.rollback()
        existing = _sale_with_token(token)
        if existing:
            return existing
        raise
    except Exception:
        db.session.rollback()
        raise


def void_sale(user, sale: Sale, reason: str, token: str, refund_method: str | None = None) -> Sale:
    """Record the void of `sale` (managers): a new linked negative sale that returns the stock,
    in the open cash session. The money goes back as `refund_method` (refund_methods(sale)),
    by default as it was paid for a sale of this session, in cash for one of an earlier session."""
    if user.role != Role.MANAGER:
        raise SaleRefused("Seul·e un·e référent·e peut annuler une vente.")
    if not reason.strip():
        raise SaleRefused("Indiquez le motif de l'annulation.", "reason")
    begin_write()
    try:
        existing = _sale_with_token(token)
        if existing:
            return existing
        session_id = _open_session(sale.relay_id)
        counter = _lock_counter(sale.relay_id, clock.today().year)
        db.session.refresh(sale)
        if sale.is_void or sale.voided_by is not None:
            raise SaleRefused("Cette vente est déjà annulée." if sale.voided_by else "Une annulation ne s'annule pas.")
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
        db.session.commit()
        return void
    except Exception:
        db.session.rollback()
        raise


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
        "payments": [[p.method, p.amount_cents, p.given_cents, p.cheque_number] for p in sale.payments],
    }


def _sale_with_token(token: str) -> Sale | None:
    return db.session.scalar(select(Sale).where(Sale.form_token == token))


def _open_session(relay_id: int) -> int:
    """The id of the relay's open cash session; a sale or void is refused without one. The relay
    row is locked first, as the closing does, so that a closing and a sale take turns."""
    db.session.execute(select(Relay.id).where(Relay.id == relay_id).with_for_update())
    session_id = db.session.scalar(select(CashSession.id).where(CashSession.relay_id == relay_id,
                                                                CashSession.closed_at.is_(None)))
    if session_id is None:
        raise SaleRefused(NO_OPEN_SESSION)
    return session_id


def refund_methods(sale: Sale, session_id: int | None) -> list[str]:
    """How the money of `sale` can go back: the refund methods, plus the original's methods when
    the sale belongs to the open session `session_id` (its money is still in the till)."""
    codes = [method.code for method in payments.METHODS if method.refund and not method.retired]
    if sale.cash_session_id is not None and sale.cash_session_id == session_id:
        codes += [p.method for p in sale.payments if p.method not in codes and p.method != payments.FREE]
    return codes


def refund_choice(sale: Sale) -> dict:
    """The void form's refund methods for `sale` ({code: label}) and the default one (None: as paid)."""
    session_id = db.session.scalar(select(CashSession.id).where(CashSession.relay_id == sale.relay_id,
                                                                CashSession.closed_at.is_(None)))
    same_session = sale.cash_session_id is not None and sale.cash_session_id == session_id
    codes = refund_methods(sale, session_id) if sale.total_cents else []
    return {"methods": {code: payments.label(code) for code in codes},
            "default": None if same_session else payments.CASH, "same_session": same_session}


def _refund(sale: Sale, session_id: int, method: str | None) -> list[Payment]:
    same_session = sale.cash_session_id == session_id
    if sale.total_cents == 0 or (method is None and same_session):
        return [Payment(method=p.method, amount_cents=-p.amount_cents) for p in sale.payments]
    method = method or payments.CASH
    if method not in refund_methods(sale, session_id):
        raise SaleRefused("Ce moyen de remboursement n'est pas possible pour cette vente.", "refund_method")
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
        raise SaleRefused("Personne introuvable dans votre structure.", "beneficiary_id")
    return person


def _offered_products(relay_id: int, lines: list[LineRequest]) -> dict[int, Product]:
    if not lines:
        raise SaleRefused("Ajoutez au moins un produit.", "lines")
    ids = {line.product_id for line in lines}
    products = {p.id: p for p in db.session.scalars(
        select(Product).join(ProductOffer).where(Product.id.in_(ids), ProductOffer.relay_id == relay_id,
                                                 Product.active))}
    for line in lines:
        if line.product_id not in products:
            raise SaleRefused("Ce produit n'est pas proposé par votre structure.", "lines")
        if not 1 <= line.quantity <= 100:
            raise SaleRefused("La quantité doit être comprise entre 1 et 100.", "lines")
        if products[line.product_id].is_tracked and line.quantity != 1:
            raise SaleRefused(f"{products[line.product_id].name} : une ligne par numéro de série.", "lines")
    return products


def _check_rights(user, person, products, lines, override_reason: str) -> None:
    """Eligibility always; per-person limits and the monthly recharge cap unless a manager overrides."""
    needs_eligibility = [products[line.product_id] for line in lines if products[line.product_id].eligibility_required]
    if needs_eligibility and person is None:
        raise SaleRefused(f"{needs_eligibility[0].name} est réservé aux personnes éligibles : choisissez la personne.",
                          "beneficiary_id")
    if needs_eligibility and (not person.eligibility_until or person.eligibility_until < clock.today()):
        when = f" le {person.eligibility_until:%d/%m/%Y}" if person.eligibility_until else ""
        raise SaleRefused(f"L'éligibilité de {person.full_name} a expiré{when} ou n'a pas été vérifiée : "
                          "renouvelez-la sur sa fiche avant la vente.", "beneficiary_id")
    if person is None:
        return
    overridden = bool(override_reason.strip()) and user.role == Role.MANAGER
    for problem in _limit_problems(person, products, lines):
        if not overridden:
            raise SaleRefused(problem + (" Un·e référent·e peut lever cette limite en indiquant un motif."
                                         if user.role != Role.MANAGER else " Indiquez un motif pour lever la limite."),
                              "override_reason")


def _limit_problems(person, products, lines) -> list[str]:
    problems = []
    wanted: dict[int, int] = {}
    for line in lines:
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    for product_id, quantity in wanted.items():
        product = products[product_id]
        if product.limit_per_person is None:
            continue
        had = db.session.scalar(
            select(func.coalesce(func.sum(SaleLine.quantity), 0)).join(Sale)
            .where(Sale.beneficiary_id == person.id, SaleLine.product_id == product_id))
        if had + quantity > product.limit_per_person:
            problems.append(f"{product.name} : limite de {product.limit_per_person} par personne "
                            f"(déjà {had}).")
    recharge = sum(line.quantity * products[line.product_id].price_cents for line in lines
                   if products[line.product_id].category == "recharge")
    if recharge:
        # The local calendar month: a recharge at 00:30 on the 1st (Paris) counts for the new month.
        month = clock.today().replace(day=1)
        next_month = (month + timedelta(days=31)).replace(day=1)
        spent = db.session.scalar(
            select(func.coalesce(func.sum(SaleLine.quantity * SaleLine.unit_cents), 0)).join(Sale)
            .where(Sale.beneficiary_id == person.id, SaleLine.category == "recharge",
                   Sale.created_at >= clock.local_midnight(month), Sale.created_at < clock.local_midnight(next_month)))
        cap = current_app.config["RECHARGE_MONTHLY_CAP_CENTS"]
        if spent + recharge > cap:
            problems.append(f"Recharges plafonnées à {cap / 100:.2f} € par personne et par mois "
                            f"(déjà {spent / 100:.2f} € ce mois-ci).".replace(".", ","))
    return problems


def _insert_sale(user, counter, token, person, products, lines, payments, override_reason, at) -> Sale:
    total = sum(line.quantity * products[line.product_id].price_cents for line in lines)
    reference = sum(line.quantity * products[line.product_id].reference_cents for line in lines)
    payment_rows, change = _payments(total, payments)
    counter.last_seq += 1
    sale = Sale(relay_id=counter.relay_id, year=counter.year, seq=counter.last_seq,
                number=receipt_number(user.relay.code, counter.year, counter.last_seq), form_token=token,
                beneficiary_id=person.id if person else None, user_id=user.id, total_cents=total, created_at=at,
                reference_total_cents=reference, change_cents=change,
                override_reason=override_reason.strip()[:300] if user.role == Role.MANAGER else "")
    for line in lines:
        product = products[line.product_id]
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
        return [Payment(method="free", amount_cents=0)], 0
    if not payments:
        raise SaleRefused("Indiquez le paiement.", "payments")
    if any(p.amount_cents < 0 or p.method not in ("cash", "card", "cheque") for p in payments):
        raise SaleRefused("Moyen de paiement ou montant non valide.", "payments")
    paid = sum(p.amount_cents for p in payments)
    if paid != total:
        raise SaleRefused(f"Les paiements ({paid / 100:.2f} €) ne correspondent pas au total "
                          f"({total / 100:.2f} €).".replace(".", ","), "payments")
    change = 0
    rows = []
    for p in payments:
        if p.method == "cheque" and not p.cheque_number.strip():
            raise SaleRefused("Indiquez le numéro du chèque.", "payments")
        if p.method == "cash":
            given = p.given_cents if p.given_cents is not None else p.amount_cents
            if given < p.amount_cents:
                raise SaleRefused("La somme donnée en espèces est inférieure au montant dû.", "payments")
            change += given - p.amount_cents
            rows.append(Payment(method="cash", amount_cents=p.amount_cents, given_cents=given))
        else:
            rows.append(Payment(method=p.method, amount_cents=p.amount_cents,
                                cheque_number=p.cheque_number.strip()[:20]))
    return rows, change


def _take_stock(sale: Sale, products: dict[int, Product]) -> None:
    for line in sale.lines:
        product = products[line.product_id]
        if product.is_tracked:
            item = serial_in_stock(sale.relay_id, line.serial)
            if item is None or item.product_id != product.id:
                raise SaleRefused(f"{product.name} : le numéro {line.serial or '(vide)'} n'est pas en stock ici.",
                                  "lines")
            item.status, item.sale_line_id = "sold", line.id
            line.serial, line.grade = item.serial, item.grade
        try:
            move_stock(sale.relay_id, product.id, -line.quantity, "sale", sale.user_id, sale.number)
        except OutOfStock:
            raise SaleRefused(f"Stock insuffisant : {product.name}.", "lines") from None


def _sealed_payloads(kind: str, sale_ids: list[int]) -> dict[int, dict]:
    """The payloads of the sales (or voids) still there, with their lines and payments: three queries."""
    sales = db.session.scalars(select(Sale).where(Sale.id.in_(sale_ids))
                               .options(selectinload(Sale.lines), selectinload(Sale.payments)))
    return {sale.id: sale_payload(sale) for sale in sales if kind == ("void" if sale.is_void else "sale")}


def _relay_sales(relay_id: int) -> set[tuple[str, int]]:
    rows = db.session.execute(select(Sale.id, Sale.voids_sale_id).where(Sale.relay_id == relay_id))
    return {("void" if voids else "sale", sale_id) for sale_id, voids in rows}


register_source(("sale", "void"), _sealed_payloads, _relay_sales)
