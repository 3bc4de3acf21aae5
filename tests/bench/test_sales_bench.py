"""Sales recorded per second, on SQLite (the embedded default) and PostgreSQL.

Reports figures into docs/BENCHMARKS.md (section `sales`); asserts only correctness (consecutive
numbers, exact stock, intact ledger), never timings."""
import os
import threading
import time

from flask_migrate import upgrade

from portal import clock
from portal.extensions import db
from portal.ledger.operations import verify_relay
from portal.sales.models import Sale
from portal.sales.operations import LineRequest, PaymentRequest, record_sale
from portal.stock.operations import stock_level
from portal.users.models import User
from tests.bench.conftest import Timing, machine_description, now_utc
from tests.conftest import fresh_database_url, make_test_app

SEQUENTIAL = 200
THREADS, PER_THREAD = 4, 50
RECORD_BUDGET_MS = 50  # a sale is recorded within its page's request: server p95 ≤ 50 ms (DESIGN.md, Budgets)


def _world(app):
    from portal.beneficiaries.models import Beneficiary
    from portal.beneficiaries.operations import create_beneficiary, verify_eligibility
    from portal.cash.models import CashSession
    from portal.catalogue.models import Product, ProductOffer
    from portal.relays.models import Relay, Territory
    from portal.stock.operations import move_stock

    relay = Relay(name="Relais bench", code="BENCH", town="Gap", territory=Territory(name="Bench"))
    user = User(email="bench@test.example", display_name="Bench", role="volunteer", relay=relay)
    user.set_password("un mot de passe de banc")
    db.session.add_all([relay, user])
    db.session.flush()
    db.session.add(CashSession(relay_id=relay.id, opening_float_cents=0))  # the till is open
    person = Beneficiary(first_name="Олена", last_name="Шевченко", eligibility_basis="asylum")
    create_beneficiary(person, user)
    verify_eligibility(person, user, clock.today())
    products = []
    for code, category, price in (("SIM", "sim", 500), ("ACC", "accessory", 200)):
        product = Product(code=code, name=code, category=category, price_cents=price, reference_cents=price * 2)
        db.session.add(product)
        db.session.flush()
        db.session.add(ProductOffer(product_id=product.id, relay_id=relay.id))
        move_stock(relay.id, product.id, 10_000, "delivery", None, "BL")
        products.append(product.id)
    db.session.commit()
    return user.id, person.id, products


def _sale(user_id, person_id, products, token):
    user = db.session.get(User, user_id)
    return record_sale(user, token, [LineRequest(products[0], 1), LineRequest(products[1], 2)],
                       [PaymentRequest("cash", 900, 1000)], person_id)


def _measure_backend(tmp_path, label):
    """The report's row for one backend, and the times of the sequential sales."""
    with fresh_database_url(tmp_path, "bench_sales") as url:
        app = make_test_app(url, SQLITE_SYNCHRONOUS="FULL", TESTING=False)
        with app.app_context():
            upgrade()
            user_id, person_id, products = _world(app)
            samples = []
            started = time.perf_counter()
            for i in range(SEQUENTIAL):
                t0 = time.perf_counter()
                _sale(user_id, person_id, products, f"seq-{i}")
                samples.append(time.perf_counter() - t0)
            sequential_rate = SEQUENTIAL / (time.perf_counter() - started)
            db.session.remove()

        errors = []

        def worker(n):
            with app.app_context():
                try:
                    for i in range(PER_THREAD):
                        _sale(user_id, person_id, products, f"par-{n}-{i}")
                except Exception as error:  # reported below
                    errors.append(error)
                finally:
                    db.session.remove()

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(THREADS)]
        started = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        parallel_rate = THREADS * PER_THREAD / (time.perf_counter() - started)
        with app.app_context():
            seqs = sorted(db.session.scalars(db.select(Sale.seq)))
            total = SEQUENTIAL + THREADS * PER_THREAD
            assert errors == [] and seqs == list(range(1, total + 1))
            assert stock_level(1, products[0]) == 10_000 - total
            relay_id = db.session.get(User, user_id).relay_id
            assert verify_relay(relay_id) is None
            db.session.remove()  # give the connection back before closing the pool
            db.engine.dispose()
        timing = Timing(samples)
        return (f"| {label} | {sequential_rate:.0f} | {timing.ms()} | {parallel_rate:.0f} "
                f"({THREADS} threads × {PER_THREAD}) | {total}, consecutive, ledger intact |"), timing


def test_sales_per_second(tmp_path, bench_report):
    rows = []
    saved = os.environ.pop("TEST_DATABASE_URL", None)
    try:
        row, sqlite_timing = _measure_backend(tmp_path, "SQLite (WAL, synchronous=FULL)")
        rows.append(row)
    finally:
        if saved:
            os.environ["TEST_DATABASE_URL"] = saved
    if saved:
        rows.append(_measure_backend(tmp_path, "PostgreSQL 15")[0])
    else:
        previous = bench_report.read("sales") or ""
        rows += [line for line in previous.splitlines() if line.startswith("| PostgreSQL")]
    body = f"""## Recording sales

*Written by `tests/bench/test_sales_bench.py`* — {now_utc()}; {machine_description()}.

Each sale: two lines (a SIM and two accessories), cash with change, an eligible person. It goes
through `record_sale` in full: write lock (SQLite `BEGIN IMMEDIATE`; PostgreSQL row lock on the
receipt counter), token check, eligibility and limits, numbering, stock, ledger entry, commit.
Sequential: one after another in one thread; parallel: threads recording into the same relay.
Afterwards the run checks that numbers are consecutive, stock exact and the ledger intact.
Command: `make bench` (add `TEST_DATABASE_URL=postgresql://…` for PostgreSQL).

| Backend | Sequential sales/s | One sale p50 / p95 / max ms | Parallel sales/s | Checked |
|---|---:|---:|---:|---|
""" + "\n".join(rows)
    bench_report.write("sales", body)
    bench_report.record("sales.sqlite.record_sale_p95_ms", sqlite_timing.p95 * 1000, RECORD_BUDGET_MS, "ms",
                        note="record_sale() alone, sequential: it runs inside the sale page's request")
    print(body)
