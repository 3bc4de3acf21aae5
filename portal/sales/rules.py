"""What may be sold to whom: the checks a sale's lines pass, shown by the screen as the volunteer
fills it in and made again by record_sale, in the same words; and what the lines cost."""
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, NamedTuple

from flask import current_app
from sqlalchemy import func, select

from .. import clock
from ..beneficiaries.models import Beneficiary
from ..catalogue.models import Product, ProductOffer
from ..extensions import db
from ..security import Role
from ..stock.forms import serial_problem
from ..stock.models import SerialItem, StockLevel
from ..stock.operations import serial_in_stock
from .models import Sale, SaleLine

if TYPE_CHECKING:
    from .operations import LineRequest

MAX_QUANTITY = 100
QUANTITY_RANGE = f"La quantité doit être un nombre entier compris entre 1 et {MAX_QUANTITY}."


@dataclass(frozen=True)
class Problem:
    """What would refuse a sale, in the words of the refusal, and the field of the screen it is about."""
    message: str
    field: str


class Offered(NamedTuple):
    product: Product
    stock: int


@dataclass
class Bill:
    """A draft's lines with their product (None when no longer offered) and amount, and its totals."""
    rows: list[tuple["LineRequest", Product | None, int]]
    total: int
    reference: int


def bill(lines: list["LineRequest"], offered: dict[int, Offered]) -> Bill:
    """What the lines cost: the one computation of the screen, the sale page's totals and record_sale."""
    rows, total, reference = [], 0, 0
    for line in lines:
        product = offered[line.product_id].product if line.product_id in offered else None
        amount = line.quantity * product.price_cents if product else 0
        rows.append((line, product, amount))
        total += amount
        reference += line.quantity * product.reference_cents if product else 0
    return Bill(rows, total, reference)


def offer(relay_id: int, product_ids=None) -> dict[int, Offered]:
    """The relay's active products (only `product_ids`, if given) with their stock, in the screen's order."""
    query = (select(Product, StockLevel.quantity).join(ProductOffer)
             .outerjoin(StockLevel, (StockLevel.product_id == Product.id) & (StockLevel.relay_id == relay_id))
             .where(ProductOffer.relay_id == relay_id, Product.active).order_by(Product.category, Product.name))
    if product_ids is not None:
        query = query.where(Product.id.in_(product_ids))
    return {product.id: Offered(product, quantity or 0) for product, quantity in db.session.execute(query)}


def sale_problems(user, person: Beneficiary | None, offered: dict[int, Offered], lines: list["LineRequest"],
                  override_reason: str = "") -> list[Problem]:
    """Everything that would refuse these lines for this person: eligibility, per-person limits,
    the monthly recharge cap, serial numbers and stock. The screen shows them as the volunteer
    goes; record_sale refuses with the first, in the same words."""
    products = {line.product_id: offered[line.product_id].product for line in lines if line.product_id in offered}
    problems = _eligibility_problems(person, products, lines)
    if person is not None and not (override_reason.strip() and user.role == Role.MANAGER):
        suffix = (" Indiquez un motif pour lever la limite." if user.role == Role.MANAGER
                  else " Un·e référent·e peut lever cette limite en indiquant un motif.")
        problems += [Problem(problem + suffix, "override_reason")
                     for problem in _limit_problems(person, products, lines)]
    return problems + _stock_problems(user.relay_id, offered, lines)


def _eligibility_problems(person, products: dict[int, Product], lines) -> list[Problem]:
    """Products kept for eligible people need a person whose eligibility is verified and current.
    With no line yet, the chosen person's expired eligibility is said at once."""
    needs_eligibility = [products[line.product_id] for line in lines
                         if line.product_id in products and products[line.product_id].eligibility_required]
    if needs_eligibility and person is None:
        return [Problem(f"{needs_eligibility[0].name} est réservé aux personnes éligibles : choisissez la personne.",
                        "beneficiary_id")]
    if person is None or not (needs_eligibility or not lines):
        return []
    if person.eligibility_until and person.eligibility_until >= clock.today():
        return []
    when = f" le {person.eligibility_until:%d/%m/%Y}" if person.eligibility_until else ""
    return [Problem(f"L'éligibilité de {person.full_name} a expiré{when} ou n'a pas été vérifiée : "
                    "renouvelez-la sur sa fiche avant la vente.", "beneficiary_id")]


def _limit_problems(person, products: dict[int, Product], lines) -> list[str]:
    """The per-person limits and the monthly recharge cap these lines would pass."""
    problems = []
    wanted: dict[int, int] = {}
    for line in lines:
        if line.product_id in products:
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
    recharge = sum(quantity * products[product_id].price_cents for product_id, quantity in wanted.items()
                   if products[product_id].category == "recharge")
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
            problems.append(f"Recharges plafonnées à {euros(cap)} € par personne et par mois : déjà "
                            f"{euros(spent)} €, reste {euros(max(cap - spent, 0))} € ce mois-ci.")
    return problems


def _stock_problems(relay_id: int, offered: dict[int, Offered], lines) -> list[Problem]:
    """Serial numbers that are not valid or not on the shelf, and products short of stock."""
    problems, wanted = [], {}
    for index, line in enumerate(lines):
        if line.product_id not in offered:
            continue
        product, stock = offered[line.product_id]
        before = wanted.get(product.id, 0)
        wanted[product.id] = before + line.quantity
        if product.is_tracked:
            problem = serial_problem(product.tracking, line.serial) if line.serial else None
            if problem:
                problems.append(Problem(f"{product.name}, n° {line.serial} : {problem}", f"line-{index}-serial"))
            elif not serial_on_shelf(relay_id, product, line.serial):
                problems.append(Problem(not_on_shelf(product, line.serial), f"line-{index}-serial"))
        if before <= stock < wanted[product.id]:  # the line that goes past what is on the shelf
            problems.append(Problem(out_of_stock(product), f"line-{index}-quantity"))
    return problems


def serial_on_shelf(relay_id: int, product: Product, serial: str) -> SerialItem | None:
    item = serial_in_stock(relay_id, serial) if serial else None
    return item if item is not None and item.product_id == product.id else None


def not_on_shelf(product: Product, serial: str) -> str:
    return f"{product.name} : le numéro {serial or '(vide)'} n'est pas en stock ici."


def out_of_stock(product: Product) -> str:
    return f"Stock insuffisant : {product.name}."


def euros(cents: int) -> str:
    return f"{cents / 100:.2f}".replace(".", ",")
