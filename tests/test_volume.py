"""`flask seed-volume`: a small volume whose report tables equal a recomputation from the raw rows,
whose receipts are numbered without gap per relay and year, and whose dashboard figures equal
counts of the sales — on SQLite and PostgreSQL."""
from collections import Counter, defaultdict
from datetime import date, timedelta

from sqlalchemy import func, select

from portal import clock
from portal.beneficiaries.models import Beneficiary
from portal.cash.models import CashSession
from portal.clock import local_day
from portal.extensions import db
from portal.relays.models import Relay, Territory
from portal.reports.queries import relay_figures
from portal.sales.models import Payment, ReceiptCounter, Sale, SaleLine
from portal.sales.operations import receipt_number
from portal.workshops.models import Attendance
from tests.test_reports import recomputed_rows, summary_rows

ARGS = ["seed-volume", "--relays", "2", "--years", "1", "--sales", "300"]


def test_seed_volume_writes_exact_report_figures(app, runner):
    result = runner.invoke(args=ARGS)
    assert result.exit_code == 0, result.output
    assert "Volume ajouté" in result.output
    db.session.expire_all()
    relays = db.session.scalars(select(Relay).join(Territory).where(Territory.name == "Volume")
                                .order_by(Relay.code)).all()
    assert [r.code for r in relays] == ["V001", "V002"]
    sales = db.session.scalars(select(Sale)).all()
    voids = [s for s in sales if s.voids_sale_id]
    assert len(sales) - len(voids) == 300 and voids  # ~2 % voided, by a linked negative sale
    assert db.session.scalar(select(func.count()).select_from(Attendance)) > 0
    assert db.session.scalar(select(func.count()).select_from(CashSession).where(CashSession.closed_at.is_not(None))) > 0

    assert summary_rows() == recomputed_rows()

    # voids negate their sale, line by line and payment by payment
    by_id = {s.id: s for s in sales}
    for void in voids:
        sale = by_id[void.voids_sale_id]
        assert void.created_at > sale.created_at and void.void_reason and void.total_cents == -sale.total_cents
        assert [(l.product_id, -l.quantity) for l in void.lines] == [(l.product_id, l.quantity) for l in sale.lines]
        assert [(p.method, -p.amount_cents) for p in void.payments] == [(p.method, p.amount_cents)
                                                                       for p in sale.payments]
    # every sale is paid exactly (free only when nothing is owed)
    for sale in sales:
        assert sum(p.amount_cents for p in sale.payments) == sale.total_cents == sum(
            line.quantity * line.unit_cents for line in sale.lines)
        assert all(p.method == "free" for p in sale.payments) == (sale.total_cents == 0)

    # receipts: per relay and local year, 1…n in time order, numbered as the app numbers them
    codes = {r.id: r.code for r in relays}
    receipts = defaultdict(list)
    for sale in sorted(sales, key=lambda s: (s.created_at, s.id)):
        assert sale.year == local_day(sale.created_at).year
        assert sale.number == receipt_number(codes[sale.relay_id], sale.year, sale.seq)
        receipts[(sale.relay_id, sale.year)].append(sale.seq)
    counters = {(c.relay_id, c.year): c.last_seq for c in db.session.scalars(select(ReceiptCounter))}
    assert counters == {key: len(seqs) for key, seqs in receipts.items()}
    for seqs in receipts.values():
        assert seqs == list(range(1, len(seqs) + 1))
    assert len({s.form_token for s in sales}) == len(sales)

    # the dashboard's figures equal counts of the raw rows, over the whole year and over a period
    # whose edges cut months (monthly rows for whole months, daily rows for the edge days)
    today = clock.today()
    ids = [r.id for r in relays]
    for start, end in ((today - timedelta(days=400), today),
                       (today - timedelta(days=200), today - timedelta(days=17))):
        figures = relay_figures(ids, start, end)
        for relay_id in ids:
            assert _figures(figures[relay_id]) == _counted(relay_id, start, end)


def _figures(f) -> dict:
    return {"sales": f.sales, "sales_cents": f.sales_cents, "voids": f.voids, "voids_cents": f.voids_cents,
            "onboarded": f.onboarded, "served": f.served,
            "categories": {k: v for k, v in f.categories.items() if v != [0, 0]},
            "payments": {k: v for k, v in f.payments.items() if v != [0, 0]}}


def _counted(relay_id: int, start: date, end: date) -> dict:
    def within(moment) -> bool:
        return start <= local_day(moment) <= end

    sales = [s for s in db.session.scalars(select(Sale).where(Sale.relay_id == relay_id)) if within(s.created_at)]
    kept = [s for s in sales if not s.voids_sale_id]
    voids = [s for s in sales if s.voids_sale_id]
    categories, payments = defaultdict(lambda: [0, 0]), defaultdict(lambda: [0, 0])
    for sale in sales:
        for line in db.session.scalars(select(SaleLine).where(SaleLine.sale_id == sale.id)):
            categories[line.category][0] += line.quantity
            categories[line.category][1] += line.quantity * line.unit_cents
        for payment in db.session.scalars(select(Payment).where(Payment.sale_id == sale.id)):
            payments[payment.method][0] += -1 if sale.voids_sale_id else 1
            payments[payment.method][1] += payment.amount_cents
    people = Counter(within(p.created_at) for p in db.session.scalars(
        select(Beneficiary).where(Beneficiary.relay_id == relay_id)))
    served = {s.beneficiary_id for s in kept if s.beneficiary_id}
    served |= {mark.beneficiary_id for mark in db.session.scalars(select(Attendance))
               if mark.status == "present" and mark.session.relay_id == relay_id
               and start <= mark.session.day <= end}
    return {"sales": len(kept), "sales_cents": sum(s.total_cents for s in kept), "voids": len(voids),
            "voids_cents": sum(s.total_cents for s in voids), "onboarded": people[True], "served": len(served),
            "categories": {k: v for k, v in categories.items() if v != [0, 0]},
            "payments": {k: v for k, v in payments.items() if v != [0, 0]}}


def test_seed_volume_twice_is_refused(app, runner):
    assert runner.invoke(args=["seed-volume", "--relays", "1", "--years", "1", "--sales", "10"]).exit_code == 0
    again = runner.invoke(args=["seed-volume", "--relays", "1", "--years", "1", "--sales", "10"])
    assert again.exit_code == 1 and "existe déjà" in again.output
