"""Fixtures: a migrated database per run (SQLite, or PostgreSQL when TEST_DATABASE_URL is set),
an app and client per test, factories for territories, relays and users. The whole run happens at
a set moment (PORTAL_TEST_NOW), never at the machine's date."""
import os
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import time_machine
from flask.testing import FlaskClient
from flask_migrate import upgrade

from portal import clock, create_app
from portal.extensions import db
from portal.relays.models import Relay, Territory
from portal.security import Role
from portal.users.models import User

PASSWORD = "un-mot-de-passe-de-test"

# The moment the run starts, in the portal's time zone: an ordinary Wednesday in mid-month, away
# from month ends and daylight-saving changes. CI also runs the date-sensitive tests (marker
# date_sensitive) at the 1st of a month, New Year's Eve, both daylight-saving days and 29 February.
DEFAULT_TEST_NOW = "2026-06-17T10:00:00+02:00"
CLOCK_SITE = Path(__file__).resolve().parent / "clock_site"


def pytest_configure(config):
    """Travel to the run's moment before collection (modules read today at import) and let time
    tick from there; the processes a test starts (servers, flask commands) share this clock."""
    start = datetime.fromisoformat(os.environ.get("PORTAL_TEST_NOW") or DEFAULT_TEST_NOW)
    os.environ["PORTAL_TEST_CLOCK_OFFSET"] = str(start.timestamp() - time.time())
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CLOCK_SITE), os.environ.get("PYTHONPATH")]))
    config.stash[TRAVEL] = time_machine.travel(start, tick=True)
    config.stash[TRAVEL].start()


def pytest_unconfigure(config):
    if TRAVEL in config.stash:
        config.stash[TRAVEL].stop()


TRAVEL = pytest.StashKey[time_machine.travel]()


@contextmanager
def fresh_database_url(folder, prefix: str):
    """A database of its own: a SQLite file in `folder`, or, when TEST_DATABASE_URL is set,
    a new PostgreSQL schema `<prefix>_<random>` that is dropped at the end."""
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        yield f"sqlite:///{folder / f'{prefix}.sqlite3'}"
        return
    url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in url else "?"
    try:
        yield f"{url}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def database_url(tmp_path_factory):
    """The unit tests' database for this run."""
    with fresh_database_url(tmp_path_factory.mktemp("db"), "test") as url:
        yield url


def make_test_app(database_url, **overrides):
    config = {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-not-for-production-0123456789",
        "SQLALCHEMY_DATABASE_URI": database_url,
        "WTF_CSRF_ENABLED": False,
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "SQLITE_SYNCHRONOUS": "OFF",  # no fsync per commit: the test database is thrown away
        "SERVER_NAME": None,
    }
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="session")
def migrated(database_url):
    """Apply the Alembic migrations once: the tests run on the schema production gets."""
    app = make_test_app(database_url)
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return database_url


def empty_all_tables():
    # DELETE, not TRUNCATE: on PostgreSQL, truncating some twenty tiny tables after every test
    # costs more than the test (new files, locks); ids simply go on counting.
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


class IsolatedClient(FlaskClient):
    """Each request runs in its own app context (own `g`, own database session), as in production.

    Without this, requests would share the fixture's app context, so Flask-Login's cached user
    and the SQLAlchemy identity map would leak from one request (or one client) to the next."""

    def open(self, *args, **kwargs):
        with self.application.app_context():
            response = super().open(*args, **kwargs)
        db.session.rollback()  # the test's own session sees what the request committed
        return response


@pytest.fixture
def app_config(request):
    """Config overrides: parametrize a test with indirect=True, e.g. [{"WTF_CSRF_ENABLED": True}]."""
    return getattr(request, "param", {})


@pytest.fixture
def app(migrated, app_config):
    app = make_test_app(migrated, **app_config)
    app.test_client_class = IsolatedClient
    with app.app_context():
        yield app
        db.session.remove()
        empty_all_tables()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# --- factories -------------------------------------------------------------

@pytest.fixture
def make_territory(app):
    def make(name=None):
        territory = Territory(name=name or f"Territoire {uuid.uuid4().hex[:6]}")
        db.session.add(territory)
        db.session.commit()
        return territory
    return make


@pytest.fixture
def make_relay(app, make_territory):
    def make(territory=None, name=None, code=None, till_open=True, **fields):
        """A relay; its till is open (a session with no float, as a migration leaves it) so that
        tests can sell at once, unless `till_open` is False (the cash tests open it themselves)."""
        from portal.cash.models import CashSession

        suffix = uuid.uuid4().hex[:6].upper()
        relay = Relay(territory=territory or make_territory(), name=name or f"Relais {suffix}",
                      code=code or f"R{suffix}", town=fields.pop("town", "Gap"), **fields)
        db.session.add(relay)
        db.session.flush()
        if till_open:
            db.session.add(CashSession(relay_id=relay.id, opening_float_cents=0))
        db.session.commit()
        return relay
    return make


@pytest.fixture
def make_user(app, make_relay):
    def make(role=Role.VOLUNTEER, relay=None, territory=None, email=None, password=PASSWORD, **fields):
        if role in (Role.VOLUNTEER, Role.MANAGER) and relay is None:
            relay = make_relay()
        if role == Role.COORDINATOR and territory is None:
            territory = relay.territory if relay else make_relay().territory
        user = User(role=role, relay=relay if role in (Role.VOLUNTEER, Role.MANAGER) else None,
                    territory=territory if role == Role.COORDINATOR else None,
                    email=email or f"{role}-{uuid.uuid4().hex[:8]}@test.example",
                    display_name=fields.pop("display_name", f"{role.title()} de test"), **fields)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user
    return make


@pytest.fixture
def make_beneficiary(app, make_relay):
    """A person recorded through the same operation as the onboarding form."""
    from datetime import date

    from portal.beneficiaries.models import Beneficiary
    from portal.beneficiaries.operations import create_beneficiary, verify_eligibility

    def make(relay=None, first_name="Amina", last_name="Diallo", by=None, eligible_on=None, **fields):
        relay = relay or make_relay()
        person = Beneficiary(first_name=first_name, last_name=last_name, **fields)
        if eligible_on:
            person.eligibility_basis = fields.get("eligibility_basis", "asylum")
        create_beneficiary(person, by, relay.id)
        if eligible_on:
            verify_eligibility(person, by, eligible_on if isinstance(eligible_on, date) else clock.today())
            db.session.commit()
        return person
    return make


@pytest.fixture
def make_product(app):
    """A catalogue product offered to `relays`, with `stock` units delivered to each."""
    from portal.catalogue.models import Product, ProductOffer
    from portal.stock.operations import move_stock

    def make(relays=(), stock=0, code=None, name="Carte SIM prépayée", category="sim", price=500,
             reference=1500, **fields):
        product = Product(code=code or f"P{uuid.uuid4().hex[:8].upper()}", name=name, category=category,
                          price_cents=price, reference_cents=reference, **fields)
        db.session.add(product)
        db.session.flush()
        for relay in relays:
            db.session.add(ProductOffer(product_id=product.id, relay_id=relay.id))
            if stock:
                move_stock(relay.id, product.id, stock, "delivery", None, "BL-TEST")
        db.session.commit()
        return product
    return make


@pytest.fixture
def login(client):
    """Log `user` in on the test client; returns the response of the login POST."""
    def do_login(user, password=PASSWORD):
        return client.post("/login", data={"email": user.email, "password": password})
    return do_login


@pytest.fixture
def make_parcours(app, make_relay):
    """A parcours organised by `relay` (a new relay by default)."""
    from portal.workshops.models import Parcours

    def make(relay=None, title="Premiers pas sur smartphone", themes="smartphone,messaging", **fields):
        parcours = Parcours(relay_id=(relay or make_relay()).id, title=title, themes=themes,
                            planned_sessions=fields.pop("planned_sessions", 4), **fields)
        db.session.add(parcours)
        db.session.commit()
        return parcours
    return make


@pytest.fixture
def make_workshop_session(app, make_user):
    """A session of `parcours` for the people of `host` (default: its organiser), yesterday 14:00,
    2 hours, facilitated by a new volunteer of the organiser unless `facilitator` is given."""
    from datetime import time, timedelta

    from portal.workshops.models import WorkshopSession

    def make(parcours, host=None, day=None, facilitator=None, **fields):
        facilitator = facilitator or make_user(Role.VOLUNTEER, relay=db.session.get(Relay, parcours.relay_id))
        session = WorkshopSession(
            parcours_id=parcours.id, relay_id=parcours.relay_id, host_relay_id=host.id if host else parcours.relay_id,
            day=day or clock.today() - timedelta(days=1), start_time=fields.pop("start_time", time(14)),
            duration_minutes=fields.pop("duration_minutes", 120), commune=fields.pop("commune", "Gap"),
            venue=fields.pop("venue", "Locaux de la structure"), facilitator_id=facilitator.id,
            capacity=fields.pop("capacity", 10), **fields)
        db.session.add(session)
        db.session.commit()
        return session
    return make
