"""Load: volunteers and coordinators at rising concurrency, on the embedded default and at scale.

Two servers, each started as it runs in real life on its own copy of the demo (`seed_demo`):
(a) the embedded default, `waitress-serve --threads 8 wsgi:app` on SQLite, as `make run` starts it;
(b) gunicorn with 4 sync workers on PostgreSQL (a fresh schema, dropped at the end; skipped when
no PostgreSQL answers). Locust drives them headless, in a subprocess per concurrency level: Locust
patches the standard library with gevent on import, which must not happen inside pytest. This
file is both the pytest benchmark and, when Locust loads it (`locust -f`), the simulated users.

Reported in docs/BENCHMARKS.md (section `load`) and docs/benchmarks.json; nothing here asserts a
timing.
"""
import csv
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

LEVELS = (5, 10, 20, 40)  # concurrent users
SECONDS_PER_LEVEL = 25
WARMUP_SECONDS = 8  # first: every thread or worker loads its templates, fonts and connections
BUDGET_MS, BUDGET_USERS = 50, 20  # p95 per page at 20 users on the embedded default (DESIGN.md)
THINK_SECONDS = (0.5, 1.5)  # between two requests of a volunteer: a brisk counter, not a stampede
COORDINATOR_THINK_SECONDS = (2, 5)  # a coordinator reads the dashboard before the next one
GUNICORN_WORKERS = 4
PAGES = {  # Locust request name: what it is
    "search": "Beneficiary search as typed (htmx fragment)",
    "sale_screen": "Sale screen, a person chosen (page)",
    "sale_add": "Add a product to the sale (htmx fragment)",
    "record_sale": "Record the sale (POST, 303 to the sale page)",
    "receipt": "Sale page, where the receipt is printed from (page)",
    "receipt_pdf": "Receipt PDF (not a page: its own budget is 100 ms unloaded)",
    "attendance_toggle": "Toggle one attendance mark (htmx fragment)",
    "dashboard": "Coordinator dashboard /reports/ (page)",
}
UNBUDGETED = {"receipt_pdf"}
FRAGMENT = {"HX-Request": "true", "HX-Request-Type": "partial"}
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def csrf_token(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1) or found.group(2)


# --- the simulated users (only when Locust loads this file) -------------------------------------

if "locust" in sys.modules:
    from locust import HttpUser, between, task

    PLAN = json.loads(os.environ["LOAD_PLAN"])

    class Volunteer(HttpUser):
        """A volunteer of one relay: searches people, sells and prints, marks attendance."""
        weight = 4
        wait_time = between(*THINK_SECONDS)

        def on_start(self):
            self.account = random.choice(PLAN["volunteers"])
            page = self.client.get("/login", name="login")
            form = {"email": self.account["email"], "password": PLAN["password"], "csrf_token": csrf_token(page.text)}
            home = self.client.post("/login", data=form, name="login")
            self.csrf = csrf_token(home.text)

        @task(3)
        def search(self):
            query = random.choice(self.account["queries"])
            for typed in (query[:2], query[:3]):  # active search: a fragment per keystroke pause
                self.client.get("/beneficiaries/", params={"q": typed}, headers=FRAGMENT, name="search")
                self.wait()

        @task(2)
        def sell(self):
            person = random.choice(self.account["people"])
            self.client.get(f"/sales/new?beneficiary={person}", name="sale_screen")
            self.wait()
            draft = {"csrf_token": self.csrf, "token": secrets.token_urlsafe(24), "beneficiary_id": person}
            self.client.post("/sales/new/lines", data={**draft, "add_product": self.account["product"]},
                             headers={**FRAGMENT, "X-CSRFToken": self.csrf}, name="sale_add")
            self.wait()
            line = {"line-0-product": self.account["product"], "line-0-quantity": 1,
                    "pay_cash": self.account["price"], "cash_given": "5"}
            with self.client.post("/sales/new", data={**draft, **line}, allow_redirects=False,
                                  name="record_sale", catch_response=True) as recorded:
                if recorded.status_code != 303:
                    recorded.failure(f"status {recorded.status_code}, not 303")
                    return
            sale = recorded.headers["Location"]
            self.client.get(sale, name="receipt")
            # Printing records the original, then shows its PDF (the redirect is followed).
            self.client.post(f"{sale}/print", data={"csrf_token": self.csrf}, name="receipt_pdf")

        @task(2)
        def mark_attendance(self):
            session, person = random.choice(self.account["sheet"])
            self.client.post(f"/workshops/sessions/{session}/attendance/{person}",
                             data={"status": random.choice(["present", "absent"])},
                             headers={**FRAGMENT, "X-CSRFToken": self.csrf}, name="attendance_toggle")

    class Coordinator(HttpUser):
        """The territory's coordinator, reading the dashboard."""
        weight = 1
        wait_time = between(*COORDINATOR_THINK_SECONDS)

        def on_start(self):
            page = self.client.get("/login", name="login")
            form = {"email": PLAN["coordinator"], "password": PLAN["password"], "csrf_token": csrf_token(page.text)}
            self.client.post("/login", data=form, name="login")

        @task
        def dashboard(self):
            self.client.get("/reports/", name="dashboard")


# --- the benchmark (pytest) ------------------------------------------------------------------

else:
    import pytest
    import sqlalchemy as sa

    from tests.bench.conftest import ROOT, machine_description, now_utc
    from tests.conftest import fresh_database_url, make_test_app

    VENV_BIN = Path(sys.executable).parent
    DEFAULT_POSTGRESQL = "postgresql://postgres@127.0.0.1:5432/test"

    def _free_port() -> int:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            return s.getsockname()[1]

    def _seed(url: str) -> dict:
        """Migrate and seed the demo into `url`; the plan the simulated users follow."""
        from flask_migrate import upgrade

        from portal.beneficiaries.models import Beneficiary
        from portal.catalogue.models import Product
        from portal.demo import DEMO_PASSWORD, seed_demo
        from portal.extensions import db
        from portal.relays.models import Relay
        from portal import clock
        from portal.security import Role
        from portal.stock.operations import deliver
        from portal.users.models import User
        from portal.workshops.models import WorkshopSession
        from portal.workshops.queries import sheet_people

        app = make_test_app(url, TESTING=False)
        with app.app_context():
            upgrade()
            assert seed_demo(), "a fresh database"
            coordinator = db.session.scalar(sa.select(User).where(User.role == Role.COORDINATOR))
            charger = db.session.scalar(sa.select(Product).where(Product.code == "CHARG"))
            volunteers = []
            for user in db.session.scalars(sa.select(User).where(User.role.in_([Role.VOLUNTEER, Role.MANAGER]))):
                deliver(coordinator, user.relay_id, charger, "BL-LOAD", 1_000_000)  # never out of stock
                people = db.session.scalars(sa.select(Beneficiary).where(
                    Beneficiary.relay_id == user.relay_id, Beneficiary.anonymised_at.is_(None))).all()
                past = db.session.scalars(sa.select(WorkshopSession).where(
                    WorkshopSession.host_relay_id == user.relay_id, WorkshopSession.day < clock.today())).all()
                sheet = [(s.id, person.id) for s in past for person, _ in sheet_people(s)]
                volunteers.append({
                    "email": user.email, "product": charger.id, "price": f"{charger.price_cents / 100:.2f}".replace(".", ","),
                    "people": [p.id for p in people], "sheet": sheet,
                    "queries": sorted({p.last_key[:3] for p in people if len(p.last_key) >= 3}),
                })
            plan = {"password": DEMO_PASSWORD, "coordinator": coordinator.email,
                    "volunteers": [v for v in volunteers if v["sheet"]],
                    "relays": db.session.scalar(sa.select(sa.func.count(Relay.id)))}
            db.session.remove()
            db.engine.dispose()
        assert plan["volunteers"], "the demo has volunteers with past workshop sessions"
        return plan

    @contextmanager
    def _server(kind: str, url: str, log: Path):
        """The portal served by waitress (as `make run`) or gunicorn, on `url`: its base URL."""
        port = _free_port()
        env = {**os.environ, "FLASK_SQLALCHEMY_DATABASE_URI": url, "FLASK_SECRET_KEY": secrets.token_hex(32),
               "PYTHONPATH": str(ROOT)}
        if kind == "waitress":
            command = [str(VENV_BIN / "waitress-serve"), "--host", "127.0.0.1", "--port", str(port), "--threads", "8",
                       "wsgi:app"]
        else:
            command = [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--workers",
                       str(GUNICORN_WORKERS), "--log-level", "warning", "wsgi:app"]
        with log.open("wb") as output:  # a file, not a pipe: waitress logs its queue depth under load
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"{base}/login", timeout=1)
                    break
                except OSError:
                    assert process.poll() is None, log.read_text(errors="replace")[-3000:]
                    time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=30)

    def _run_locust(base: str, plan: dict, users: int, prefix: Path, seconds: int = SECONDS_PER_LEVEL) -> dict:
        """One headless Locust run at `users`: {"rows": {name: row of its stats CSV}, "failures": [text]}."""
        command = [str(VENV_BIN / "locust"), "-f", __file__, "--headless", "--host", base, "-u", str(users),
                   "-r", str(users), "-t", f"{seconds}s", "--reset-stats", "--only-summary",
                   "--csv", str(prefix), "--loglevel", "WARNING", "--stop-timeout", "5"]
        env = {**os.environ, "LOAD_PLAN": json.dumps(plan), "PYTHONPATH": str(ROOT)}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=seconds + 90)
        stats = Path(f"{prefix}_stats.csv")
        assert stats.exists(), done.stderr[-3000:]
        with stats.open(encoding="utf-8") as f:
            rows = {row["Name"]: row for row in csv.DictReader(f)}
        with Path(f"{prefix}_failures.csv").open(encoding="utf-8") as f:
            failures = [f"{row['Occurrences']} × {row['Name']}: {row['Error']}" for row in csv.DictReader(f)]
        return {"rows": rows, "failures": failures}

    def _postgresql_available() -> bool:
        url = os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRESQL
        if not url.startswith("postgres"):
            return False
        try:
            engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1),
                                      connect_args={"connect_timeout": 2})
            with engine.connect():
                pass
            engine.dispose()
            return True
        except Exception:
            return False

    SETUPS = {"embedded": "waitress (8 threads) + SQLite, as `make run`",
              "scale": f"gunicorn ({GUNICORN_WORKERS} sync workers) + PostgreSQL"}

    @pytest.mark.parametrize("setup", list(SETUPS))
    def test_load(setup, tmp_path, monkeypatch, bench_report):
        if setup == "embedded":
            monkeypatch.delenv("TEST_DATABASE_URL", raising=False)
        elif _postgresql_available():
            monkeypatch.setenv("TEST_DATABASE_URL", os.environ.get("TEST_DATABASE_URL") or DEFAULT_POSTGRESQL)
        else:
            pytest.skip("no PostgreSQL answers (set TEST_DATABASE_URL=postgresql://…)")
        started, load_before = time.perf_counter(), os.getloadavg()
        with fresh_database_url(tmp_path, "bench_load") as url:
            plan = _seed(url)
            levels = {}
            with _server("waitress" if setup == "embedded" else "gunicorn", url, tmp_path / "server.log") as base:
                _run_locust(base, plan, LEVELS[-1], tmp_path / "warmup", WARMUP_SECONDS)
                for users in LEVELS:
                    load = os.getloadavg()[0]
                    run = _run_locust(base, plan, users, tmp_path / f"u{users}")
                    levels[users] = {"stats": run["rows"], "failures": run["failures"], "load": load,
                                     "load_after": os.getloadavg()[0]}
        seconds, load_after = time.perf_counter() - started, os.getloadavg()
        assert levels[LEVELS[0]]["stats"].get("Aggregated"), "Locust measured nothing"
        body = _setup_section(setup, plan, levels, seconds, load_before, load_after)
        bench_report.write_block("load", _header(), SETUPS, setup, body)
        if setup == "embedded":
            for page in PAGES:
                row = levels[BUDGET_USERS]["stats"].get(page)
                if row is None or page in UNBUDGETED:
                    continue
                bench_report.record(f"load.embedded.u{BUDGET_USERS}.{page}.p95_ms", float(row["95%"]), BUDGET_MS,
                                    "ms", load=levels[BUDGET_USERS]["load_after"],
                                    note=f"{row['Request Count']} requests, {float(row['Requests/s']):.1f}/s")
        print(f"\n{body}\n")

    # --- docs/BENCHMARKS.md ----------------------------------------------------------------

    def _header() -> str:
        return f"""## Load: volunteers and coordinators at rising concurrency

*Written by `tests/bench/test_load_bench.py`.*

**Budget:** p95 **≤ {BUDGET_MS} ms per page at {BUDGET_USERS} concurrent users on the embedded default**
(waitress + SQLite; DESIGN.md, Budgets: server p95 ≤ 50 ms per page under a realistic load). The
receipt PDF is not a page: its own budget (≤ 100 ms warm) is measured unloaded by the receipt
benchmark, here it is reported only. gunicorn + PostgreSQL is for information.

**Method:** each setup gets its own copy of the demo (`seed_demo`, migrated with Alembic; demo
passwords hashed with the tests' cheap method, and logins are left out of the figures) with
1,000,000 USB chargers delivered to every relay with an account, so that stock never runs out. The
server runs in its own process as in production: (a) `waitress-serve --threads 8 wsgi:app` on a
SQLite file (synchronous=FULL, the app's default), as `make run` starts it; (b) `gunicorn --workers
{GUNICORN_WORKERS} wsgi:app` on PostgreSQL 15 (a fresh schema). Locust 2.47 (headless, one
subprocess per level, on the same 2-core machine as the server: it takes CPU from it) simulates
volunteers and coordinators (4 to 1): a volunteer logs in with a demo account of their relay, then
in turn searches a person (two keystrokes: two fragments), sells (sale screen, add a USB charger,
record it, the sale page, the receipt PDF) or marks one attendance on a past session's sheet
(weights 3, 2, 2), waiting {THINK_SECONDS[0]}–{THINK_SECONDS[1]} s between requests; a coordinator
loads the dashboard every {COORDINATOR_THINK_SECONDS[0]}–{COORDINATOR_THINK_SECONDS[1]} s. First an
unreported {WARMUP_SECONDS} s warm-up at {LEVELS[-1]} users (each thread or worker loads its templates,
fonts and connections); then, per level, all users start at once, the statistics are reset once
they are all running, and {SECONDS_PER_LEVEL} s are measured.
Locust's percentiles are rounded (to the ms below 100 ms, to two significant digits above).
"Degrades" names the first level where the p95 of a budgeted page passes {BUDGET_MS} ms, and the
level where the throughput stops following the users (less than 1.5× when they double).

**Command:** `make bench`, or `.venv/bin/python -m pytest tests/bench/test_load_bench.py -p no:cacheprovider -s`
(PostgreSQL: `TEST_DATABASE_URL`, or `{DEFAULT_POSTGRESQL}` when it answers)."""

    def _ms(row, column) -> str:
        return f"{float(row[column]):.0f}" if row else "—"

    def _setup_section(setup, plan, levels, seconds, load_before, load_after) -> str:
        lines = [
            f"### {SETUPS[setup]}",
            "",
            f"- **Date:** {now_utc()}. This block took {seconds:.0f} s (seeding included).",
            f"- **Machine:** {machine_description()}. Load average (1 min) was {load_before[0]:.2f} before and "
            f"{load_after[0]:.2f} after; at the start of each level: "
            + ", ".join(f"{users} users {level['load']:.2f}" for users, level in levels.items()) + ".",
            f"- **Data:** the demo ({plan['relays']} relays); {len(plan['volunteers'])} volunteer accounts used.",
            "",
            "| Users | Requests/s | Failures | p50 / p95 / p99 ms (all) |"
            + "".join(f" `{page}` p95 |" for page in PAGES),
            "|---:|---:|---:|---:|" + "---:|" * len(PAGES),
        ]
        degrade_latency = degrade_throughput = None
        previous = users_before = None
        for users, level in levels.items():
            stats, total = level["stats"], level["stats"]["Aggregated"]
            rate = float(total["Requests/s"])
            worst = max((float(stats[p]["95%"]) for p in PAGES if p in stats and p not in UNBUDGETED), default=0)
            if degrade_latency is None and worst > BUDGET_MS:
                degrade_latency = users
            if degrade_throughput is None and previous and rate < 0.75 * previous * users / users_before:
                degrade_throughput = users  # doubling the users gave less than 1.5× the requests
            previous, users_before = rate, users
            lines.append(f"| {users} | {rate:.1f} | {total['Failure Count']} | {_ms(total, '50%')} / {_ms(total, '95%')}"
                         f" / {_ms(total, '99%')} |" + "".join(f" {_ms(stats.get(page), '95%')} |" for page in PAGES))
        budget_row = levels[BUDGET_USERS]["stats"]
        lines += ["", f"At {BUDGET_USERS} users, per page (p50 / p95 / p99 ms, requests):", ""]
        for page, label in PAGES.items():
            row = budget_row.get(page)
            if row is None:
                continue
            p95 = float(row["95%"])
            verdict = ("" if setup != "embedded" or page in UNBUDGETED
                       else " — pass" if p95 <= BUDGET_MS else " — **miss**")
            lines.append(f"- {label}: {_ms(row, '50%')} / {_ms(row, '95%')} / {_ms(row, '99%')}, "
                         f"{row['Request Count']} requests{verdict}.")
        failures = [f"{users} users: {text}" for users, level in levels.items() for text in level["failures"]]
        if failures:
            lines += ["", "Failures (Locust's words):", "", *(f"- {text}" for text in failures)]
        lines += ["", f"**Degrades:** p95 of a page above {BUDGET_MS} ms from "
                  + (f"{degrade_latency} users" if degrade_latency else f"no level up to {LEVELS[-1]} users")
                  + "; throughput stops following the users from "
                  + (f"{degrade_throughput} users" if degrade_throughput else f"no level up to {LEVELS[-1]} users")
                  + "."]
        return "\n".join(lines)
