"""Coordinator dashboard over 3 million sales: budget ≤ 200 ms per page, ≤ 14 KB compressed.

The database: migrated with flask_migrate.upgrade(), then `seed_volume()` (what `flask
seed-volume` runs) adds the territory "Volume": 100 relays, 3,000,000 sales (voids on top) over
ten years up to today, people, workshop attendance, daily closings and the report tables. A
coordinator of that territory is added with the tests' password. SQLite: the file is cached in
instance/bench/ under a key made of DATASET_VERSION, the migrations and the generator, and rebuilt
when its data ends more than MAX_AGE_DAYS ago (periods are counted back from today). PostgreSQL
(when TEST_DATABASE_URL is set): a schema of its own named after the same key, kept between runs
likewise (its comment holds what the build reported); older ones are dropped.

Measured: GET /reports/?period=… (this month, last month, this quarter, this year, ten years; the
activity table, and for the year and ten years the tables per category and per payment method)
through the Flask test client logged in as the coordinator, its gzip size, relay_figures() alone
for the period, and each statement relay_figures() runs for the year and ten-year periods with its
plan. Reported in docs/BENCHMARKS.md (section `dashboard`); nothing here asserts a timing.
"""
import gc
import gzip
import hashlib
import json
import os
import sqlite3
import statistics
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import request
from flask_migrate import upgrade

from portal.cash.models import CashSession
from portal.beneficiaries.models import Beneficiary
from portal.extensions import db
from portal.relays.models import Relay, Territory
from portal.reports.forms import PeriodForm
from portal.reports.models import (DailyActivity, MonthlyActivity, Participant, ParticipantMonth, ParticipantYear,
                                   ServedMonth, ServedPerson, ServedYear, YearlyActivity)
from portal.reports.queries import relay_figures
from portal.reports.volume import TERRITORY, seed_volume
from portal.sales.models import Payment, Sale, SaleLine
from portal import clock
from portal.security import Role
from portal.users.models import User
from portal.workshops.models import Attendance, WorkshopSession
from tests.bench.conftest import (ROOT, StatementLog, format_ms, machine_description, measure, now_utc,
                                  settle_after_bulk_load)
from tests.conftest import PASSWORD, make_test_app

DATASET_VERSION = "dashboard-v1"  # change it when the dataset below changes
RELAYS, YEARS, SALES, SEED = 100, 10, 3_000_000, 5
MAX_AGE_DAYS = 7
CACHED_DATABASES = 2  # SQLite files kept in instance/bench/ (a few GB each)
COORDINATOR = "coordination@volume.example"
RUNS, WARMUP, MAX_SECONDS = 30, 2, 8.0
BUDGET_MS, PAGE_BUDGET_KB = 200.0, 14.0
HTTP_HEADERS = {"Accept-Encoding": "gzip, deflate, br"}  # what Firefox ESR and Chrome send
MIGRATIONS = ROOT / "migrations"
GENERATOR = ROOT / "portal" / "reports" / "volume.py"
# (kind, table of the dashboard, label); the custom period is the ten years up to today (the longest
# the form accepts). The activity table is the default; the two others are one click away.
PERIODS = [("month", "activity", "This month"), ("last_month", "activity", "Last month"),
           ("quarter", "activity", "This quarter"), ("year", "activity", "This year"),
           ("custom", "activity", "Ten years (custom dates)"), ("year", "categories", "This year, per category"),
           ("custom", "payments", "Ten years, per payment method")]
PROFILED = ("year", "custom")  # periods whose statements are timed one by one
MEASURED = ["portal/reports/queries.py", "portal/reports/models.py", "portal/reports/routes.py",
            "portal/reports/display.py", "portal/database.py", "wsgi.py",
            "portal/templates/reports/index.html", "portal/templates/reports/_figures.html", "portal/templating.py"]


# --- the dataset --------------------------------------------------------------------------

def dataset_key() -> str:
    """DATASET_VERSION and a digest of the migrations and the generator: a change rebuilds."""
    digest = hashlib.sha256(f"{RELAYS} {YEARS} {SALES} {SEED}".encode())
    for path in [*sorted(MIGRATIONS.rglob("*.py")), GENERATOR]:
        digest.update(path.name.encode() + path.read_bytes())
    return f"{DATASET_VERSION}-{digest.hexdigest()[:10]}"


def build_database(url: str) -> dict:
    """Migrate an empty database, add the volume and the coordinator; what the build reported."""
    started = time.perf_counter()
    app = make_test_app(url, SQLITE_SYNCHRONOUS="FULL")  # the app's own setting while loading
    with app.app_context():
        upgrade()
        totals = seed_volume(relays=RELAYS, years=YEARS, sales=SALES, seed=SEED, echo=print)
        territory = db.session.scalar(sa.select(Territory).where(Territory.name == TERRITORY))
        coordinator = User(email=COORDINATOR, display_name="Coordination Volume", role=Role.COORDINATOR,
                           territory=territory)
        coordinator.set_password(PASSWORD)
        db.session.add(coordinator)
        db.session.commit()
        settle_after_bulk_load(db)
    return {"built_on": local_day_iso(), "seconds": time.perf_counter() - started,
            "generator_seconds": totals.seconds, "insert_seconds": totals.insert_seconds, "rows": totals.rows,
            "rows_per_second": totals.rows_per_second, "sales": totals.sales, "voids": totals.voids}


def local_day_iso() -> str:
    return date.today().isoformat()


def _fresh(built: dict) -> bool:
    return date.fromisoformat(built["built_on"]) >= date.today() - timedelta(days=MAX_AGE_DAYS)


def cached_sqlite_database(cache_dir: Path) -> tuple[str, dict]:
    """The cached SQLite database (built first when missing or stale). Runs use it in place: they
    only add a login (last login time, audit event)."""
    key = dataset_key()
    cached, about = cache_dir / f"{key}.sqlite3", cache_dir / f"{key}.json"
    built = json.loads(about.read_text()) if cached.exists() and about.exists() else None
    if built is None or not _fresh(built):
        for leftover in cache_dir.glob(f"{key}.*"):
            leftover.unlink()
        building = cache_dir / f"{key}.sqlite3.building"
        built = build_database(f"sqlite:///{building}")
        with sqlite3.connect(building) as conn:
            conn.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        building.replace(cached)
        about.write_text(json.dumps(built))
        built["cached"] = False
    else:
        built["cached"] = True
    for stale in cache_dir.glob(f"{key}.sqlite3-*"):
        stale.unlink()  # a WAL left by a run that was killed is already checkpointed or lost
    cached.touch()
    others = sorted((p for p in cache_dir.glob("dashboard-*.sqlite3") if p != cached),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in others[CACHED_DATABASES - 1:]:
        for path in cache_dir.glob(f"{old.stem}.*"):
            path.unlink()
    built["megabytes"] = cached.stat().st_size / 1e6
    return f"sqlite:///{cached}", built


def cached_postgresql_schema(base_url: str) -> tuple[str, dict]:
    """A schema of its own named after the dataset key, built once; older ones dropped."""
    url = base_url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = "bench_" + dataset_key().replace("-", "_")
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            comment = conn.execute(sa.text("SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace "
                                           "WHERE nspname = :name"), {"name": schema}).scalar()
            built = json.loads(comment) if comment else None
            others = conn.execute(sa.text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_dashboard_%'"))
            for (old,) in others.all():
                if old != schema or built is None or not _fresh(built):
                    conn.execute(sa.text(f'DROP SCHEMA "{old}" CASCADE'))
            if built is None or not _fresh(built):
                conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in url else "?"
        schema_url = f"{url}{sep}options=-csearch_path%3D{schema}"
        if built is None or not _fresh(built):
            built = build_database(schema_url)
            with admin.connect() as conn:  # the mark of a complete build
                conn.execute(sa.text(f"COMMENT ON SCHEMA \"{schema}\" IS '{json.dumps(built)}'"))
            built["cached"] = False
        else:
            built["cached"] = True
        with admin.connect() as conn:
            built["megabytes"] = float(conn.execute(sa.text(
                "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = :name AND c.relkind = 'r'"),
                {"name": schema}).scalar()) / 1e6
    finally:
        admin.dispose()
    return schema_url, built


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def dataset(request, bench_cache_dir):
    """(backend, database url, how it was built)."""
    if request.param == "sqlite":
        url, built = cached_sqlite_database(bench_cache_dir)
        return "sqlite", url, built
    base = os.environ.get("TEST_DATABASE_URL", "")
    if not base.startswith("postgres"):
        pytest.skip("PostgreSQL: set TEST_DATABASE_URL=postgresql://… to measure it too")
    url, built = cached_postgresql_schema(base)
    return "postgresql", url, built


# --- measuring ----------------------------------------------------------------------------

def _profile(backend: str, statements) -> list[dict]:
    """Each SELECT: its median time over 5 runs, its rows and its plan (PostgreSQL: EXPLAIN
    ANALYZE, with the actual time of each node)."""
    profiled = []
    connection = db.session.connection()
    for statement, parameters in statements:
        if not statement.lstrip().upper().startswith(("SELECT", "WITH")):
            continue
        samples, rows = [], 0
        for _ in range(6):
            started = time.perf_counter()
            rows = len(connection.exec_driver_sql(statement, parameters).fetchall())
            samples.append(time.perf_counter() - started)
        if backend == "sqlite":
            plan = [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
        else:
            plan = [" ".join(row[0].split()) for row in connection.exec_driver_sql(
                f"EXPLAIN (ANALYZE, BUFFERS, TIMING) {statement}", parameters)]
        profiled.append({"sql": " ".join(statement.split()), "ms": statistics.median(samples[1:]) * 1000,
                         "rows": rows, "plan": plan})
    return profiled


def _server_description(backend: str) -> str:
    if backend == "sqlite":
        settings = {name: db.session.execute(sa.text(f"PRAGMA {name}")).scalar()
                    for name in ("journal_mode", "synchronous", "cache_size", "page_size")}
        stats = db.session.execute(sa.text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")).scalar()
        sync = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(settings["synchronous"], settings["synchronous"])
        return (f"SQLite {sqlite3.sqlite_version}, journal_mode={settings['journal_mode']}, synchronous={sync} "
                f"(the app's default), cache_size={settings['cache_size']}, page_size={settings['page_size']}, "
                f"{'with' if stats else 'no'} ANALYZE statistics (the app never runs ANALYZE)")
    version = db.session.execute(sa.text("SHOW server_version")).scalar()
    return (f"PostgreSQL {version} on 127.0.0.1 (a schema of its own; VACUUM ANALYZE after the load, as "
            f"autovacuum would do soon after it)")


def _counts() -> dict:
    models = {"relays": Relay, "people": Beneficiary, "receipts": Sale, "sale lines": SaleLine, "payments": Payment,
              "workshop sessions": WorkshopSession, "attendance marks": Attendance, "cash sessions": CashSession,
              "daily figures": DailyActivity, "monthly figures": MonthlyActivity, "yearly figures": YearlyActivity,
              "people served per day": ServedPerson, "per month": ServedMonth, "per year": ServedYear,
              "workshop participants per day": Participant, "participants per month": ParticipantMonth,
              "participants per year": ParticipantYear}
    counts = {name: db.session.scalar(sa.select(sa.func.count()).select_from(model)) for name, model in models.items()}
    counts["voids"] = db.session.scalar(sa.select(sa.func.count()).where(Sale.voids_sale_id.is_not(None)))
    return counts


def test_dashboard_latency(dataset, bench_report):
    backend, url, built = dataset
    started, load_before = time.perf_counter(), os.getloadavg()
    app = make_test_app(url, SQLITE_SYNCHRONOUS="FULL", TESTING=False)  # the app's normal settings
    gc.collect()
    gc.freeze()  # as wsgi.py does once the app is built
    with app.app_context():
        territory = db.session.scalar(sa.select(Territory).where(Territory.name == TERRITORY))
        relay_ids = db.session.scalars(sa.select(Relay.id).where(Relay.territory_id == territory.id,
                                                                 Relay.active)).all()
        counts = _counts()
        server = _server_description(backend)
        today = clock.today()
    client = app.test_client()
    login = client.post("/login", data={"email": COORDINATOR, "password": PASSWORD})
    assert login.status_code == 303, login.status_code

    rows = []
    for kind, view, label in PERIODS:
        params = {"period": kind, "view": view}
        if kind == "custom":
            params.update(start=(today - timedelta(days=3659)).isoformat(), end=today.isoformat())
        with app.test_request_context("/reports/", query_string=params):
            period = PeriodForm(request.args).chosen(today)  # as the view reads it
            previous = period.previous(kind)
        page = client.get("/reports/", query_string=params)  # uncompressed, to weigh it
        assert page.status_code == 200 and "<html" in page.text and "Relais volume 001" in page.text
        timing = measure(_getter(client, params), RUNS, WARMUP, MAX_SECONDS)
        with app.app_context():
            def run_figures():
                relay_figures(relay_ids, period.start, period.end)
                db.session.rollback()  # a new transaction each time, as each request has

            figures_timing = measure(run_figures, RUNS, WARMUP, MAX_SECONDS)
            sales = relay_figures(relay_ids, period.start, period.end)
            profile = []
            if kind in PROFILED and view == "activity":
                with StatementLog(db.engine) as log:
                    relay_figures(relay_ids, period.start, period.end)
                profile = _profile(backend, log.statements)
            db.session.rollback()
        rows.append({"kind": kind, "view": view, "label": label, "period": period, "previous": previous, "page": timing,
                     "figures": figures_timing, "bytes": len(page.data), "gzip": len(gzip.compress(page.data, 6)),
                     "sales": sum(f.sales for f in sales.values()), "profile": profile})
    downloads = _exports(client, today)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()

    body = _backend_section(backend, server, built, counts, rows, time.perf_counter() - started, load_before,
                            os.getloadavg())
    body += "\n\n" + _exports_section(downloads)
    bench_report.write_block("dashboard", _header(), BACKEND_TITLES, backend, body)
    for row in rows:  # the budgeted figures, for make bench-check
        name = f"dashboard.{backend}.{row['kind']}.{row['view']}"
        bench_report.record(f"{name}.p95_ms", row["page"].p95 * 1000, BUDGET_MS, "ms", note=row["label"])
        bench_report.record(f"{name}.page_gzip_kb", row["gzip"] / 1024, PAGE_BUDGET_KB, "KB", note=row["label"])
    print(f"\n{body}\n")


EXPORTS = [("/reports/figures.csv", "Figures per relay and month (CSV)"),
           ("/reports/journal.csv", "Sales journal (CSV)"), ("/reports/report.pdf", "Activity report (PDF)")]


def _exports(client, today: date) -> list[dict]:
    """Each export for this year and for ten years, once: time to the first chunk and to the
    last, and the bytes sent (uncompressed: what the app writes)."""
    measured = []
    for path, label in EXPORTS:
        for kind, params in (("This year", {"period": "year"}),
                             ("Ten years", {"period": "custom", "start": (today - timedelta(days=3659)).isoformat(),
                                            "end": today.isoformat()})):
            started = time.perf_counter()
            response = client.get(path, query_string=params, buffered=False)
            first, size = None, 0
            for chunk in response.response:
                first = first or time.perf_counter() - started
                size += len(chunk)
            response.close()
            assert response.status_code == 200, (path, response.status_code)
            measured.append({"label": label, "period": kind, "first": first, "all": time.perf_counter() - started,
                             "bytes": size, "streamed": response.is_streamed})
    return measured


def _exports_section(downloads: list[dict]) -> str:
    lines = ["**Exports** over the same data (the coordinator's 100 relays; one run each, not budgeted): "
             "the CSV files are sent as they are read, the PDF once rendered.", "",
             "| Export | Period | First bytes | Whole file | Size |", "|---|---|---:|---:|---:|"]
    for d in downloads:
        lines.append(f"| {d['label']} | {d['period']} | {format_ms(d['first'])} ms | {d['all']:.1f} s "
                     f"| {d['bytes'] / 1e6:.1f} MB |")
    return "\n".join(lines)


def _getter(client, params):
    def get():
        response = client.get("/reports/", query_string=params, headers=HTTP_HEADERS)
        assert response.status_code == 200
    return get


# --- docs/BENCHMARKS.md -------------------------------------------------------------------
BACKEND_TITLES = {"sqlite": "SQLite (embedded default)", "postgresql": "PostgreSQL"}


def _header() -> str:
    return f"""## Coordinator dashboard over 3 million sales

*Written by `tests/bench/test_dashboard_bench.py`.*

**Budget:** the coordinator dashboard (`/reports/`, every relay of the territory over a period,
compared with the period before) answers in **≤ {BUDGET_MS:.0f} ms p95** over 3 million sales
(DESIGN.md, Budgets: summary tables, indexes), and the page weighs **≤ {PAGE_BUDGET_KB:.0f} KB
compressed** (one TCP round trip), on SQLite and on PostgreSQL.

**Command:** `make bench` measures SQLite; with
`TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test` PostgreSQL too. Each backend's
block below is rewritten only when that backend is measured.

**Dataset** (`{DATASET_VERSION}`, seed {SEED}): the schema from the Alembic migrations, then
`seed_volume()` — what `flask seed-volume` runs — adds the territory "Volume": {RELAYS} relays
(activity per relay drawn log-normal), {SALES:,} sales over the {YEARS} years up to the day of the
build (more recent years busier, weekdays busier, Saturdays less, no Sundays nor public holidays,
a quiet August), 1–2 lines each (recharges, plans, SIM cards, free emergency SIMs, smartphones,
accessories), paid in cash, card, cheque or free, ~2 % voided later by a linked negative receipt,
a person on most sales (~300 people per relay), two workshop parcours a year per relay with
attendance, every day with receipts closed, and the report tables written in the same pass. No
stock movements nor ledger entries (they are not read by the dashboard). A coordinator of the
territory logs in. The SQLite file is cached in `instance/bench/` (git-ignored) and the
PostgreSQL schema kept, both under a key made of the dataset version and digests of the
migrations and the generator, and rebuilt when the data ends more than {MAX_AGE_DAYS} days ago.

**Pages:** the dashboard shows one table of the {RELAYS} relays at a time: the activity (the
default), the sales per category, or the payments per method, each figure above the previous
period's. The year and ten-year periods are also measured with the two other tables.

**Method:** the app is built as `wsgi.py` builds it (then `gc.freeze()`: without it, a full
garbage collection over everything loaded at start-up added ~150 ms to one page in five). The
Flask test client, logged in as the coordinator, runs the whole WSGI stack
(login check, queries, template, compression), sending `Accept-Encoding: gzip, deflate, br`.
Each page computes `relay_figures()` twice: the period and the one before (for ten years, the ten
years before, which hold nothing). `relay_figures()` is also timed alone for the period, each call
followed by the end of its transaction. {RUNS} runs after {WARMUP} warm-up runs; a slow case stops
after ~{MAX_SECONDS:.0f} s with at least 5 runs (n= shows it). Times are wall-clock milliseconds,
p50 / p95 / max; other processes add to them (see the load average), so the CPU p95 of the page
requests is given too (on PostgreSQL it counts the app's side only). Sizes: the uncompressed page
and its gzip (level 6) size. The budget is judged on the wall-clock p95. The machine line gives
a reference loop's time: benchmark machines change between sessions, and this says how far
figures measured on two of them compare.

`relay_figures()` runs three statements: the activity rows summed; the distinct people served
and workshop participants; per relay, its sessions, certificates and last day. The app's
PostgreSQL connections run without parallel workers (they cost 5–14 ms a statement to start
here; `database.configure_engine`)."""


def _cell(timing) -> str:
    runs = len(timing.samples)
    return timing.ms() + ("" if runs >= RUNS else f" (n={runs})")


def _backend_section(backend, server, built, counts, rows, seconds, load_before, load_after) -> str:
    origin = ("reused from an earlier run" if built.get("cached") else "built by this run")
    generation = (f"generated in {built['generator_seconds']:.0f} s, of which {built['insert_seconds']:.0f} s "
                  f"inserting: {built['rows']:,} rows, {built['rows_per_second']:,.0f} rows/s overall "
                  f"({built['rows'] / built['insert_seconds']:,.0f} rows/s while inserting); whole build with "
                  f"the migrations{' and VACUUM ANALYZE' if backend == 'postgresql' else ''} "
                  f"{built['seconds']:.0f} s, on {built['built_on']}")
    lines = [
        f"### {BACKEND_TITLES[backend]}",
        "",
        f"- **Date:** {now_utc()}. This block took {seconds:.0f} s, not counting the database build.",
        f"- **Machine:** {machine_description()}. Load average (1 min) was {load_before[0]:.2f} before and "
        f"{load_after[0]:.2f} after.",
        f"- **Database:** {server}; {built['megabytes']:,.0f} MB, {origin}.",
        f"- **Build:** {generation}.",
        "- **Rows:** " + ", ".join(f"{count:,} {name}" for name, count in counts.items()) + ".",
        "- **Code measured** (SHA-256, first 10 digits; the reports are being worked on): "
        + ", ".join(f"`{path}` {hashlib.sha256((ROOT / path).read_bytes()).hexdigest()[:10]}" for path in MEASURED)
        + ".",
        "",
        "| Period | Dates (compared with) | Sales in period | `relay_figures()` ms | Page ms | CPU p95 page "
        "| Page size / gzip | ≤ 200 ms p95 | ≤ 14 KB gzip |",
        "|---|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        p, b = row["period"], row["previous"]
        worst = row["page"].p95 * 1000
        lines.append(
            f"| {row['label']} | {p.start:%Y-%m-%d} – {p.end:%Y-%m-%d} ({b.start:%Y-%m-%d} – {b.end:%Y-%m-%d}) "
            f"| {row['sales']:,} | {_cell(row['figures'])} | {_cell(row['page'])} "
            f"| {format_ms(row['page'].cpu_timing.p95)} | {row['bytes'] / 1024:.1f} / {row['gzip'] / 1024:.1f} KB "
            f"| {'pass' if worst <= BUDGET_MS else f'**miss** ({worst:.0f} ms)'} "
            f"| {'pass' if row['gzip'] <= PAGE_BUDGET_KB * 1024 else '**miss**'} |")
    time_misses = [r["label"] for r in rows if r["page"].p95 * 1000 > BUDGET_MS]
    size_misses = [r["label"] for r in rows if r["gzip"] > PAGE_BUDGET_KB * 1024]
    lines += ["", f"**Time: {len(rows) - len(time_misses)} of {len(rows)} periods within budget"
              + (f" (missed: {', '.join(time_misses)})" if time_misses else "")
              + f". Size: {len(rows) - len(size_misses)} of {len(rows)} pages within budget"
              + (f" (missed: {', '.join(size_misses)})" if size_misses else "") + ".**", ""]
    for row in rows:
        if not row["profile"]:
            continue
        lines += [f"<details><summary>Statements of <code>relay_figures()</code>, {row['label'].lower()} "
                  f"(median of 5 runs, rows returned, plan)</summary>", ""]
        for i, statement in enumerate(row["profile"], 1):
            sql = statement["sql"] if len(statement["sql"]) <= 600 else statement["sql"][:600] + " …"
            lines.append(f"{i}. **{statement['ms']:.1f} ms**, {statement['rows']} rows: `{sql}`")
            lines += [f"   - `{step}`" for step in statement["plan"][:40]]
        lines += ["", "</details>", ""]
    return "\n".join(lines).rstrip()
