"""Faults: the database goes away (a French 503, /healthz 503, nothing lost once it is back), and
the real server is killed with SIGKILL in the middle of sales (every acknowledged sale survives,
whole, numbered without a gap, sealed in a ledger that verifies)."""
import html
import http.client
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from portal import clock
from portal.backup import backup_database
from portal.catalogue.models import Product
from portal.demo import DEMO_PASSWORD
from portal.extensions import db
from portal.ledger.operations import verify_relay
from portal.relays.models import Relay
from portal.sales.models import Payment, ReceiptCounter, Sale, SaleLine
from portal.security import Role
from portal.stock.models import StockLevel, StockMovement
from tests.conftest import PASSWORD, IsolatedClient, fresh_database_url, make_test_app

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


# --- the database goes away -------------------------------------------------------------------

class TcpProxy:
    """127.0.0.1:<port> forwarded to `target`; cut() drops every connection and refuses new ones
    (as a dead database server or a broken link does), restore() accepts them again."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.port = free_port()
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            doomed, self._sockets = {self._listener, *self._sockets}, set()
        for sock in doomed:
            _close(sock)

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            try:
                upstream = socket.create_connection(self.target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                self._sockets |= {client, upstream}
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        _close(source)
        _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def counter(make_user, make_product, make_beneficiary):
    """A volunteer, an eligible person and a SIM (20 in stock), made in the test database."""
    volunteer = make_user(Role.VOLUNTEER)
    person = make_beneficiary(volunteer.relay, "Selam", "Haile", eligible_on=clock.today())
    sim = make_product([volunteer.relay], stock=20, code="SIMF", name="Carte SIM", price=500)
    return volunteer.email, volunteer.relay_id, person.id, sim.id


@pytest.fixture
def outage(app, counter, tmp_path):
    """(app, cut, restore): an app whose database can be made unreachable and brought back.

    PostgreSQL: the app reaches the server through a TcpProxy. SQLite: the app works on a copy of
    the test database in a folder of its own, which cut() moves away (and the connections kept
    open on the old file are dropped, as after a restart)."""
    live_url = app.config["SQLALCHEMY_DATABASE_URI"]
    if make_url(live_url).get_backend_name() == "sqlite":
        folder = tmp_path / "data"
        db.session.commit()
        backup_database(live_url, folder / "portal.sqlite3")
        faulty = make_test_app(f"sqlite:///{folder / 'portal.sqlite3'}")

        def cut():
            folder.rename(tmp_path / "data-away")
            with faulty.app_context():
                db.engine.dispose()

        def restore():
            (tmp_path / "data-away").rename(folder)
    else:
        url = make_url(live_url)
        proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
        faulty = make_test_app(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
        cut, restore = proxy.cut, proxy.restore
    faulty.test_client_class = IsolatedClient
    yield faulty, cut, restore
    with faulty.app_context():
        db.engine.dispose()


def sale_form(token: str, person_id: int, sim_id: int) -> dict:
    return {"token": token, "beneficiary_id": person_id, "action": "record",
            "line-0-product": sim_id, "line-0-quantity": "1", "pay_cash": "5,00"}


def test_database_down_answers_a_french_503_and_nothing_is_lost(outage, counter):
    faulty, cut, restore = outage
    email, relay_id, person_id, sim_id = counter
    client = faulty.test_client()
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 303
    before = client.post("/sales/new", data=sale_form("before-the-cut", person_id, sim_id))
    assert before.status_code == 303

    cut()
    page = client.get("/sales/")
    assert page.status_code == 503
    assert "<html" in page.text and "Service indisponible" in page.text
    assert "rien de ce qui a été enregistré n'est perdu" in html.unescape(page.text)
    assert page.headers["Retry-After"] == "30"
    fragment = client.get("/sales/", headers=PARTIAL)
    assert fragment.status_code == 503 and "<html" not in fragment.text and "Service indisponible" in fragment.text
    monitor = faulty.test_client()  # a health check carries no session
    health = monitor.get("/healthz")
    assert health.status_code == 503 and health.json == {"status": "error", "db": "unreachable"}
    during = client.post("/sales/new", data=sale_form("during-the-cut", person_id, sim_id))
    assert during.status_code == 503 and "Service indisponible" in during.text
    assert client.post("/login", data={"email": email, "password": PASSWORD}).status_code == 503

    restore()
    assert monitor.get("/healthz").status_code == 200
    assert client.get("/sales/").status_code == 200
    # The volunteer sends the unanswered sale again (same form token), then a new one.
    again = client.post("/sales/new", data=sale_form("during-the-cut", person_id, sim_id))
    after = client.post("/sales/new", data=sale_form("after-the-cut", person_id, sim_id))
    assert again.status_code == after.status_code == 303
    with faulty.app_context():
        sales = db.session.execute(select(Sale.form_token, Sale.seq).order_by(Sale.seq)).all()
        assert sales == [("before-the-cut", 1), ("during-the-cut", 2), ("after-the-cut", 3)]
        assert verify_relay(relay_id) is None
        assert db.session.scalar(select(func.count()).select_from(Sale)) == 3


def test_a_database_restart_between_requests_costs_no_error(counter, app):
    """A restart of PostgreSQL while the pool holds connections: with pool_pre_ping (the default on
    PostgreSQL) the next request gets a fresh connection instead of a 503."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    if url.get_backend_name() != "postgresql":
        pytest.skip("SQLite has no server to restart")
    proxy = TcpProxy((url.host or "127.0.0.1", url.port or 5432))
    faulty = make_test_app(url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False))
    faulty.test_client_class = IsolatedClient
    client = faulty.test_client()
    try:
        assert client.post("/login", data={"email": counter[0], "password": PASSWORD}).status_code == 303
        assert client.get("/sales/").status_code == 200
        proxy.cut()
        proxy.restore()
        assert client.get("/sales/").status_code == 200
    finally:
        proxy.cut()
        with faulty.app_context():
            db.engine.dispose()


# --- kill -9 in the middle of sales -----------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SERVER_SECRET = "faults-test-secret-key-" + "k" * 24
VOLUNTEER = "benevole.spf-gap@relais05.example"  # the demo's volunteer of Secours Populaire Gap


def server_env(database_url: str) -> dict:
    """What an operator sets for a server (docs/DEPLOY.md); a cheap password hash for speed."""
    return os.environ | {"FLASK_APP": "wsgi", "FLASK_SECRET_KEY": SERVER_SECRET,
                         "FLASK_SQLALCHEMY_DATABASE_URI": database_url,
                         "FLASK_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


def flask_command(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def demo_database(tmp_path):
    """A database of its own (a SQLite file, or a PostgreSQL schema) made by the project's commands:
    `flask db upgrade` then `flask seed-demo`."""
    with fresh_database_url(tmp_path, "served") as url:
        env = server_env(url)
        for command in (("db", "upgrade"), ("seed-demo",)):
            done = flask_command(env, *command)
            assert done.returncode == 0, done.stderr
        yield url


class PortalServer:
    """The real server in a process group of its own: waitress on SQLite (the embedded default),
    gunicorn with two workers on PostgreSQL. kill() is SIGKILL to the whole group."""

    def __init__(self, database_url: str, log: Path):
        self.env, self.log, self.port = server_env(database_url), log, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        if make_url(database_url).get_backend_name() == "sqlite":
            self.command = [str(BIN / "waitress-serve"), "--host=127.0.0.1", f"--port={self.port}",
                            "--threads=4", "wsgi:app"]
        else:
            self.command = [str(BIN / "gunicorn"), "--workers=2", "--preload", f"--bind=127.0.0.1:{self.port}", "wsgi:app"]
        self.process: subprocess.Popen | None = None

    def start(self) -> "PortalServer":
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=log,
                                            start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"server exited: {self.log.read_text()[-2000:]}"
            try:
                if Browser(self.url).send("GET", "/healthz")[0] == 200:
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"server not ready after 30 s: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        if self.process:
            self.process.wait(10)


@pytest.fixture
def servers(tmp_path):
    """start(database_url) → a running PortalServer; every server started is killed at the end."""
    started: list[PortalServer] = []

    def start(database_url: str) -> PortalServer:
        server = PortalServer(database_url, tmp_path / f"server-{len(started)}.log")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.kill()


class Browser:
    """An HTTP client that keeps its cookies and does not follow redirects."""

    def __init__(self, base_url: str):
        self.base_url, self.cookies = base_url, {}

    def send(self, method: str, path: str, form: dict | None = None) -> tuple[int, dict, str]:
        host, port = self.base_url.removeprefix("http://").split(":")
        connection = http.client.HTTPConnection(host, int(port), timeout=15)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body, headers["Content-Type"] = urlencode(form), "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";")[0].partition("=")
            self.cookies[name] = value
        return response.status, response.headers, text


def hidden(page: str, name: str) -> str:
    """The value of the form's hidden input `name` (whatever the order of its attributes)."""
    tag = re.search(rf'<input[^>]*\bname="{name}"[^>]*>', page).group(0)
    return re.search(r'\bvalue="([^"]*)"', tag).group(1)


class Volunteer(Browser):
    """A volunteer at the sale screen: logs in, sells one charger at a time; when a sale gets no
    answer (server gone), sends the same form again until it is acknowledged, as a browser's
    retry would, and notes the sale as "in doubt"."""

    def __init__(self, base_url: str, email: str, product_id: int, password: str = DEMO_PASSWORD):
        super().__init__(base_url)
        self.product_id, self.in_doubt = product_id, 0
        self._retrying(lambda: self._log_in(email, password))

    def _log_in(self, email: str, password: str) -> None:
        status, _, page = self.send("GET", "/login")
        assert status == 200, status
        status, _, _ = self.send("POST", "/login", {"csrf_token": hidden(page, "csrf_token"), "email": email,
                                                    "password": password})
        assert status == 303, status

    def sell(self) -> tuple[str, int]:
        """(form token, sale id) once the server acknowledged the sale (303 to the sale's page)."""
        status, _, page = self._retrying(lambda: self.send("GET", "/sales/new"))
        assert status == 200, status
        form = {"csrf_token": hidden(page, "csrf_token"), "token": hidden(page, "token"), "action": "record",
                "line-0-product": self.product_id, "line-0-quantity": "1", "pay_cash": "3,00"}
        attempts = 0

        def post():
            nonlocal attempts
            attempts += 1
            return self.send("POST", "/sales/new", form)

        status, headers, text = self._retrying(post)
        assert status == 303, f"{status}: {text[:300]}"
        self.in_doubt += attempts > 1
        return form["token"], int(headers["Location"].rsplit("/", 1)[1])

    @staticmethod
    def _retrying(step):
        deadline = time.monotonic() + 40
        while True:
            try:
                result = step()
                if result is None or result[0] not in (502, 503):
                    return result
            except (OSError, http.client.HTTPException):
                pass  # refused, reset or cut short: the server is gone for now
            assert time.monotonic() < deadline, "the server never came back"
            time.sleep(0.05)


def sales_state(database_url: str) -> dict:
    """What the database holds for the demo's SPF Gap relay: sales by token, charger stock."""
    checker = make_test_app(database_url, SECRET_KEY=SERVER_SECRET)
    with checker.app_context():
        relay_id = db.session.scalar(select(Relay.id).where(Relay.code == "SPFGAP"))
        charger = db.session.scalar(select(Product.id).where(Product.code == "CHARG"))
        rows = db.session.execute(select(Sale.form_token, Sale.id, Sale.year, Sale.seq, Sale.total_cents)
                                  .where(Sale.relay_id == relay_id)).all()
        lines = dict(db.session.execute(select(SaleLine.sale_id, func.count()).group_by(SaleLine.sale_id)).all())
        paid = dict(db.session.execute(select(Payment.sale_id, func.sum(Payment.amount_cents))
                                       .group_by(Payment.sale_id)).all())
        stock = db.session.scalar(select(StockLevel.quantity).where(StockLevel.relay_id == relay_id,
                                                                     StockLevel.product_id == charger))
        moved = db.session.scalar(select(func.sum(StockMovement.quantity)).where(
            StockMovement.relay_id == relay_id, StockMovement.product_id == charger))
        counters = dict(db.session.execute(select(ReceiptCounter.year, ReceiptCounter.last_seq)
                                           .where(ReceiptCounter.relay_id == relay_id)).all())
        db.session.remove()
        db.engine.dispose()
    return {"charger": charger, "stock": stock, "moved": moved, "counters": counters,
            "sales": {token: (sale_id, year, seq, total) for token, sale_id, year, seq, total in rows},
            "lines": lines, "paid": paid}


def assert_sales_whole_and_numbered(state: dict) -> None:
    """Each sale has its lines and its payments; receipt numbers run 1…n per year, no gap, no
    duplicate, up to the counter; the stock level is the sum of its movements."""
    by_year: dict[int, list[int]] = {}
    for sale_id, year, seq, total in state["sales"].values():
        assert state["lines"].get(sale_id, 0) >= 1, f"sale {sale_id} has no line"
        assert state["paid"].get(sale_id) == total, f"sale {sale_id}: payments do not settle it"
        by_year.setdefault(year, []).append(seq)
    for year, seqs in by_year.items():
        assert sorted(seqs) == list(range(1, len(seqs) + 1)), f"gap or duplicate in {year}"
        assert state["counters"][year] == len(seqs)
    assert state["stock"] == state["moved"]


def assert_ledger_verifies(database_url: str) -> None:
    done = flask_command(server_env(database_url), "verify-ledger")
    assert done.returncode == 0 and "ROMPU" not in done.stdout, done.stdout + done.stderr


KILLS = 5


@pytest.mark.slow
def test_kill_minus_nine_during_sales_loses_nothing(demo_database, servers):
    started = time.monotonic()
    before = sales_state(demo_database)
    assert before["stock"] >= KILLS * 15 + 20, "the demo's charger stock is too small for this test"
    server = servers(demo_database)
    volunteer = Volunteer(server.url, VOLUNTEER, before["charger"])
    acknowledged: list[tuple[str, int]] = []
    stop, errors = threading.Event(), []

    def sell_until_stopped():
        try:
            while not stop.is_set():
                acknowledged.append(volunteer.sell())
        except BaseException as error:  # asserted below
            errors.append(error)

    seller = threading.Thread(target=sell_until_stopped)
    seller.start()
    rng = random.Random()
    try:
        for _ in range(KILLS):
            target = len(acknowledged) + rng.randint(2, 8)
            while len(acknowledged) < target and seller.is_alive():
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 0.03))  # anywhere inside the next sale
            server.kill()
            server.start()
        target = len(acknowledged) + 3
        while len(acknowledged) < target and seller.is_alive():
            time.sleep(0.01)
    finally:
        stop.set()
        seller.join(60)
        server.kill()
    assert errors == []

    after = sales_state(demo_database)
    new = {token: sale for token, sale in after["sales"].items() if token not in before["sales"]}
    assert len(acknowledged) == len(set(acknowledged))
    assert {token: sale_id for token, sale_id in acknowledged} == {token: sale[0] for token, sale in new.items()}
    assert_sales_whole_and_numbered(after)
    assert after["stock"] == before["stock"] - len(new)
    assert_ledger_verifies(demo_database)
    print(f"\nkill -9 ({make_url(demo_database).get_backend_name()}): {KILLS} kills survived, "
          f"{len(acknowledged)} sales acknowledged, {len(new)} found, {volunteer.in_doubt} in doubt "
          f"and resent, {time.monotonic() - started:.1f} s")
