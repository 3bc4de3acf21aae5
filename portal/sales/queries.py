"""Reading sales: the relay's list of receipts, chosen by filters, and their totals."""
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import and_, case, false, func, select
from sqlalchemy.orm import selectinload

from .. import clock, payments
from ..beneficiaries.forms import parse_phone
from ..beneficiaries.models import Beneficiary
from ..beneficiaries.queries import search_matches
from ..cash.operations import open_session_of
from ..extensions import db
from ..security import scope_clause, scoped
from .models import Payment, Sale, SaleLine


@dataclass(frozen=True)
class SalesFilters:
    """Which receipts (sales and voids) the list shows: those recorded from `start` to `end` (naive
    UTC, end excluded; None: no bound), of the people a search finds, with a product, whose number
    ends with what was typed."""

    start: datetime | None = None
    end: datetime | None = None
    session_id: int | None = None  # the receipts of one cash session (the open one)
    since: datetime | None = None  # that session's opening, for the list's heading
    person: str = ""
    product_id: int | None = None
    receipt: str = ""


@dataclass
class SalesTotals:
    """What the chosen receipts add up to. A voided sale stays among the sales; its void, counted
    apart, brings its amounts back (negative), so that every amount is net."""

    sales: int = 0
    voids: int = 0
    net_cents: int = 0
    # method → (number of sales paid so, net amount in cents); "free" sales bring no money.
    methods: dict[str, tuple[int, int]] = field(default_factory=lambda: dict.fromkeys(payments.labels(), (0, 0)))

    @property
    def receipts(self) -> int:
        return self.sales + self.voids


def current_period(relay_id: int) -> SalesFilters:
    """The receipts the list opens on: the open cash session's (since it opened, whatever the day),
    or today's when the till is closed."""
    session = open_session_of(relay_id)
    if session:
        return SalesFilters(session_id=session.id, since=session.opened_at)
    return SalesFilters(*clock.day_bounds(clock.today()))


def receipts(relay_id: int, filters: SalesFilters):
    """A SELECT of the relay's receipts that the filters choose, among those the user may see."""
    query = scoped(Sale).where(Sale.relay_id == relay_id)
    if filters.session_id:
        query = query.where(Sale.cash_session_id == filters.session_id)
    if filters.start:
        query = query.where(Sale.created_at >= filters.start)
    if filters.end:
        query = query.where(Sale.created_at < filters.end)
    if filters.person:
        found = search_matches(relay_id, filters.person, parse_phone(filters.person))
        if found is None:  # nothing typed that a name, code or phone could match
            return query.where(false())
        query = query.where(Sale.beneficiary_id.in_(select(found.subquery().c.id)))
    if filters.product_id:
        query = query.where(select(SaleLine.id).where(SaleLine.sale_id == Sale.id,
                                                      SaleLine.product_id == filters.product_id).exists())
    if filters.receipt:
        # Letters, digits and hyphens only (checked by the form): nothing LIKE would read as a wildcard.
        query = query.where(Sale.number.endswith(filters.receipt))
    return query


def sales_list(relay_id: int, filters: SalesFilters):
    """A SELECT of (receipt, person or None) for the list, newest first, with what a row shows.

    The person is joined through the scoping helper too: a name shows only to those who may see it."""
    people = and_(Beneficiary.id == Sale.beneficiary_id, scope_clause(Beneficiary))
    return (receipts(relay_id, filters).add_columns(Beneficiary).outerjoin(Beneficiary, people)
            .options(selectinload(Sale.lines), selectinload(Sale.payments), selectinload(Sale.voided_by),
                     selectinload(Sale.prints))
            .order_by(Sale.created_at.desc(), Sale.id.desc()))


def sales_totals(relay_id: int, filters: SalesFilters) -> SalesTotals:
    """The number of sales and voids, the net amount and the amount per payment method of the
    receipts the filters choose (every page of the list): two queries."""
    chosen = receipts(relay_id, filters).with_only_columns(
        Sale.id, Sale.voids_sale_id, Sale.total_cents).subquery()
    count, voids, net = db.session.execute(select(
        func.count(chosen.c.id), func.count(chosen.c.voids_sale_id),
        func.coalesce(func.sum(chosen.c.total_cents), 0))).one()
    totals = SalesTotals(sales=count - voids, voids=voids, net_cents=int(net))
    rows = db.session.execute(
        select(Payment.method, func.count(case((chosen.c.voids_sale_id.is_(None), Payment.id))),
               func.coalesce(func.sum(Payment.amount_cents), 0))
        .join(chosen, Payment.sale_id == chosen.c.id).group_by(Payment.method))
    for method, sales, amount in rows:
        totals.methods[method] = (sales, int(amount))
    return totals
