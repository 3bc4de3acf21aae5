"""Backups: `flask backup` copies the live database while sales go on, and the restore drill
gives back a database whose ledger verifies and which holds every sale committed before."""
import os
import sqlite3
import subprocess
import threading
import uuid
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from portal import clock
from portal.backup import default_backup_path, libpq_dsn
from portal.extensions import db
from portal.ledger.models import LedgerEntry
from portal.sales.models import Payment, Sale, SaleLine
from portal.sales.operations import LineRequest, PaymentRequest, record_sale
from portal.security import Role
from portal.stock.operations import stock_level
from portal.users.models import User
from tests.conftest import make_test_app

STOCK = 1000


@pytest.fixture
def shop(make_user, make_product, make_beneficiary):
    """A volunteer, an eligible person, a SIM with plenty of stock and a few sales already made."""
    volunteer = make_user(Role.VOLUNTEER)
    person = make_beneficiary(volunteer.relay, "Amina", "Diallo", eligible_on=clock.today())
    sim = make_product([volunteer.relay], stock=STOCK, name="Carte SIM", price=500)
    for _ in range(5):
        sell(volunteer, sim.id, person.id, uuid.uuid4().hex)
    return volunteer.id, volunteer.relay_id, sim.id, person.id


def sell(user, sim_id: int, person_id: int, token: str) -> Sale:
    return record_sale(user, token, [LineRequest(sim_id, 1)], [PaymentRequest("cash", 500)], person_id)


class SalesInTheBackground:
    """A second thread records sales, one after the other, until stopped; `acknowledged` lists the
    tokens of the sales it saw committed, in order."""

    def __init__(self, app, user_id: int, sim_id: int, person_id: int, limit: int = 800):
        self.acknowledged: list[str] = []
        self.errors: list[BaseException] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(app, user_id, sim_id, person_id, limit))

    def _run(self, app, user_id, sim_id, person_id, limit):
        with app.app_context():
            try:
                while not self._stop.is_set() and len(self.acknowledged) < limit:
                    token = uuid.uuid4().hex
                    sell(db.session.get(User, user_id), sim_id, person_id, token)
                    self.acknowledged.append(token)
            except BaseException as error:  # asserted by the test
                self.errors.append(error)
            finally:
                db.session.remove()

    def wait_for(self, count: int) -> None:
        while len(self.acknowledged) < count and self._thread.is_alive():
            threading.Event().wait(0.005)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(30)


def test_backup_during_sales_restores_every_committed_sale(app, runner, shop, tmp_path):
    user_id, relay_id, sim_id, person_id = shop
    target = tmp_path / "portal-backup"
    with SalesInTheBackground(app, user_id, sim_id, person_id) as writer:
        writer.wait_for(10)
        committed_before = set(writer.acknowledged)  # every one of these committed before the backup began
        result = runner.invoke(args=["backup", "--output", str(target)])
        during = len(writer.acknowledged) - len(committed_before)
        writer.wait_for(len(writer.acknowledged) + 10)  # the writer was never held up for long
    assert writer.errors == []
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Sauvegarde écrite : {target} (")
    assert target.exists() and not target.with_name(target.name + ".partial").exists()

    with restored(app.config["SQLALCHEMY_DATABASE_URI"], target, tmp_path) as copy:
        with copy.app_context():
            tokens = set(db.session.scalars(select(Sale.form_token)))
            seqs = db.session.scalars(select(Sale.seq).where(Sale.relay_id == relay_id).order_by(Sale.seq)).all()
            sold = db.session.scalar(select(func.sum(SaleLine.quantity)).where(SaleLine.product_id == sim_id))
            assert committed_before <= tokens, "a sale committed before the backup is missing"
            assert len(tokens) >= 5 + len(committed_before)
            assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == len(tokens)
            # nothing half-written: each sale has its line, its payment and its ledger entry, and the
            # stock is what the sales left
            for child in (SaleLine, Payment, LedgerEntry):
                assert db.session.scalar(select(func.count()).select_from(child)) == len(seqs), child
            assert stock_level(relay_id, sim_id) == STOCK - sold == STOCK - len(seqs)
        verified = copy.test_cli_runner().invoke(args=["verify-ledger"])
        assert verified.exit_code == 0 and "INTACT" in verified.output, verified.output
    print(f"backup: {len(committed_before)} sales before it, {during} while it ran, {len(tokens)} in it")


def test_backup_refuses_to_overwrite_a_file(runner, tmp_path):
    existing = tmp_path / "old.sqlite3"
    existing.write_text("une sauvegarde précédente")
    result = runner.invoke(args=["backup", "--output", str(existing)])
    assert result.exit_code == 1
    assert "existe déjà" in result.output and existing.read_text() == "une sauvegarde précédente"


def test_default_backup_name_is_dated_under_instance_backups(app, tmp_path):
    path = default_backup_path(str(tmp_path), "sqlite:///portal.sqlite3")
    assert path.parent == tmp_path / "backups" and path.name.startswith(f"portal-{clock.today():%Y%m%d}-")
    assert path.suffix == ".sqlite3" and len(path.stem) == len("portal-20260101-093000")
    assert default_backup_path(str(tmp_path), "postgresql+psycopg://u@h/db").suffix == ".dump"


def test_pg_dump_gets_a_plain_url_without_password_and_the_schema():
    dsn, password, schema = libpq_dsn(make_url(
        "postgresql+psycopg://portal:s3cret@db.example:5432/portal?options=-csearch_path%3Dtest_ab12"))
    assert dsn == "postgresql://portal@db.example:5432/portal?options=-csearch_path%3Dtest_ab12"
    assert (password, schema) == ("s3cret", "test_ab12")
    assert libpq_dsn(make_url("postgresql+psycopg://portal@db/portal")) == ("postgresql://portal@db/portal", None, None)


# --- restore drill ----------------------------------------------------------------------------

@contextmanager
def restored(live_url: str, backup: Path, folder: Path):
    """An app on a fresh database restored from `backup`, as docs/DEPLOY.md tells: on SQLite the
    file copied into place (and checked), on PostgreSQL pg_restore into a new database."""
    if make_url(live_url).get_backend_name() == "sqlite":
        database = folder / "restored.sqlite3"
        database.write_bytes(backup.read_bytes())
        with sqlite3.connect(database) as check:
            assert check.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        url = f"sqlite:///{database}"
        yield make_test_app(url)
        return
    with restored_postgresql(live_url, backup) as url:
        app = make_test_app(url)
        yield app
        with app.app_context():
            db.engine.dispose()


@contextmanager
def restored_postgresql(live_url: str, backup: Path):
    """pg_restore into a new database of the same server; its URL keeps the live URL's schema option."""
    live = make_url(live_url)
    name = f"restore_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(live, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        dsn, password, _ = libpq_dsn(live.set(database=name, query={}))
        env = os.environ | ({"PGPASSWORD": password} if password else {})
        subprocess.run(["pg_restore", "--no-owner", "--exit-on-error", f"--dbname={dsn}", str(backup)],
                       env=env, check=True, capture_output=True)
        yield live.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
