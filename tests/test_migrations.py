"""The Alembic migrations build exactly the schema the models describe, and move the data of
an older schema so that its ledger still verifies."""
from datetime import date, datetime

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade
from sqlalchemy import select, update

from portal.extensions import db


def test_migrations_match_models(app):
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == [], "models changed without a migration: run `flask db migrate`"


def test_receipts_printed_before_the_upgrade_stay_printed(tmp_path):
    """Revision 59aca4757006 turns each sale's print count into prints 0 … count - 1 (without date
    nor author), so that no receipt already printed comes out as an original again; the downgrade
    counts them back."""
    import sqlalchemy as sa
    from flask_migrate import downgrade, upgrade

    from portal.catalogue.models import Product
    from portal.relays.models import Relay, Territory
    from portal.sales.models import SaleLine
    from portal.security import Role
    from portal.users.models import User
    from tests.conftest import fresh_database_url, make_test_app

    before = "9d4b6e2f1c07"
    with fresh_database_url(tmp_path, "prints") as url:
        app = make_test_app(url)
        with app.app_context():
            upgrade(revision=before)
            relay = Relay(territory=Territory(name="Hautes-Alpes"), name="CADA Gap", code="CADAGAP", town="Gap")
            user = User(role=Role.VOLUNTEER, relay=relay, email="b@test.example", display_name="Bénévole")
            user.set_password("une phrase de passe")
            product = Product(code="SIM", name="Carte SIM", category="sim", price_cents=500, reference_cents=1500)
            db.session.add_all([user, product])
            db.session.flush()
            for seq, printed in ((1, 3), (2, 0), (3, 1)):
                db.session.execute(sa.text(
                    "INSERT INTO sale (id, relay_id, year, seq, number, form_token, user_id, created_at, total_cents, "
                    "reference_total_cents, change_cents, override_reason, void_reason, print_count) VALUES (:seq, "
                    ":relay, 2026, :seq, :number, :number, :user, '2026-03-02 10:00:00', 500, 1500, 0, '', '', :printed)"),
                    {"seq": seq, "relay": relay.id, "number": f"CADAGAP-2026-{seq:06d}", "user": user.id,
                     "printed": printed})
                db.session.add(SaleLine(sale_id=seq, product_id=product.id, label="Carte SIM", category="sim",
                                        quantity=1, unit_cents=500, reference_unit_cents=1500))
            db.session.commit()

            upgrade(revision="59aca4757006")
            prints = db.session.execute(sa.text(
                "SELECT sale_id, number, printed_at, printed_by_id FROM receipt_print ORDER BY sale_id, number")).all()
            assert [tuple(row) for row in prints] == [(1, 0, None, None), (1, 1, None, None), (1, 2, None, None),
                                                      (3, 0, None, None)]
            assert db.session.scalar(sa.text("SELECT count(*) FROM sale_line")) == 3  # the sales kept their lines
            db.session.rollback()  # a snapshot from before the downgrade would not see its column

            downgrade(revision=before)
            counts = db.session.execute(sa.text("SELECT id, print_count FROM sale ORDER BY id")).all()
            assert [tuple(row) for row in counts] == [(1, 3), (2, 0), (3, 1)]
            # The app's connections close here: one left to the garbage collector warns (an error)
            # in whichever test runs then, and holds the schema that is about to be dropped.
            db.session.remove()
            db.engine.dispose()


# --- cash sessions (c4a7e91d2b60): the closings of the days before them still verify ----------

BEFORE_SESSIONS = "9d4b6e2f1c07"


def _seal(connection, relay_id: int, kind: str, ref_id: int, payload: dict) -> None:
    """A ledger entry as the code before sessions appended it (same canonical form and key)."""
    from portal.ledger.operations import FORMAT_VERSION, canonical, compute_mac

    head = connection.execute(sa.text("SELECT last_seq, last_mac FROM ledger_head WHERE relay_id = :r"),
                              {"r": relay_id}).first() or (0, "")
    seq, text = head[0] + 1, canonical(payload)
    mac = compute_mac(relay_id, seq, kind, ref_id, FORMAT_VERSION, head[1], text)
    connection.execute(sa.text(
        "INSERT INTO ledger_entry (relay_id, seq, kind, ref_id, format_version, payload, prev_mac, mac, created_at)"
        " VALUES (:r, :s, :k, :i, :v, :p, :prev, :m, :at)"),
        {"r": relay_id, "s": seq, "k": kind, "i": ref_id, "v": FORMAT_VERSION, "p": text, "prev": head[1],
         "m": mac, "at": datetime(2025, 3, 3, 12)})
    if head[0]:
        connection.execute(sa.text("UPDATE ledger_head SET last_seq = :s, last_mac = :m WHERE relay_id = :r"),
                           {"s": seq, "m": mac, "r": relay_id})
    else:
        connection.execute(sa.text("INSERT INTO ledger_head (relay_id, last_seq, last_mac) VALUES (:r, :s, :m)"),
                           {"r": relay_id, "s": seq, "m": mac})


def _old_relay_with_a_closed_day(connection) -> dict:
    """Rows as the code before sessions wrote them: two sales on 3 March 2025 (Paris), closed that
    evening with a difference, and a sale the next day, not closed."""
    run = connection.execute
    run(sa.text("INSERT INTO territory (id, name, created_at) VALUES (1, 'Hautes-Alpes', :at)"),
        {"at": datetime(2025, 1, 1)})
    run(sa.text("INSERT INTO relay (id, territory_id, name, organisation, town, code, address, active, created_at)"
                " VALUES (1, 1, 'Secours Populaire Gap', '', 'Gap', 'SPFGAP', '', :t, :at)"),
        {"t": True, "at": datetime(2025, 1, 1)})
    run(sa.text("INSERT INTO app_user (id, email, display_name, password_hash, role, relay_id, active, created_at,"
                " session_nonce) VALUES (1, 'r@example.org', 'Référente', 'x', 'manager', 1, :t, :at, 'n')"),
        {"t": True, "at": datetime(2025, 1, 1)})
    sales = [(1, 1, datetime(2025, 3, 3, 9, 30), "cash", 500), (2, 2, datetime(2025, 3, 3, 15), "cheque", 1000),
             (3, 3, datetime(2025, 3, 4, 9), "card", 500)]  # UTC: 10:30, 16:00 and 10:00 in Paris
    for sale_id, seq, at, method, cents in sales:
        number = f"SPFGAP-2025-{seq:06d}"
        run(sa.text("INSERT INTO sale (id, relay_id, year, seq, number, form_token, user_id, created_at, total_cents,"
                    " reference_total_cents, change_cents, override_reason, void_reason, print_count)"
                    " VALUES (:i, 1, 2025, :s, :n, :n, 1, :at, :c, :c, 0, '', '', 0)"),
            {"i": sale_id, "s": seq, "n": number, "at": at, "c": cents})
        cheque = "1234567" if method == "cheque" else ""  # the column becomes payment.reference
        run(sa.text("INSERT INTO payment (sale_id, method, amount_cents, cheque_number) VALUES (:i, :m, :c, :r)"),
            {"i": sale_id, "m": method, "c": cents, "r": cheque})
        _seal(connection, 1, "sale", sale_id, {
            "number": number, "relay_id": 1, "at": at.isoformat(), "beneficiary_id": None, "user_id": 1,
            "total": cents, "reference_total": cents, "change": 0, "voids": None, "void_reason": "",
            "override": "", "lines": [], "payments": [[method, cents, None, cheque]]})
    closed_at = datetime(2025, 3, 3, 17, 45, 12, 345678)
    run(sa.text("INSERT INTO cash_closing (id, relay_id, day, expected_cash_cents, expected_card_cents,"
                " expected_cheque_cents, counted_cash_cents, counted_card_cents, counted_cheque_cents, cash_detail,"
                " difference_reason, sales_count, first_number, last_number, day_total_cents, grand_total_cents,"
                " closed_by_id, closed_at) VALUES (7, 1, :day, 500, 0, 1000, 450, 0, 1000, '{\"200\": 2, \"50\": 1}',"
                " 'pièce perdue', 2, 'SPFGAP-2025-000001', 'SPFGAP-2025-000002', 1500, 1500, 1, :at)"),
        {"day": date(2025, 3, 3), "at": closed_at})
    _seal(connection, 1, "closing", 7, {  # the payload of the closings of the days, as it was sealed
        "relay_id": 1, "day": "2025-03-03", "expected": [500, 0, 1000], "counted": [450, 0, 1000],
        "cash_detail": '{"200": 2, "50": 1}', "reason": "pièce perdue", "sales_count": 2,
        "first": "SPFGAP-2025-000001", "last": "SPFGAP-2025-000002", "day_total": 1500, "grand_total": 1500,
        "closed_by": 1, "at": closed_at.isoformat()})
    return {"closed_at": closed_at}


def test_the_closings_of_the_days_become_sessions_that_still_verify(tmp_path):
    from portal.cash.models import CashCount, CashSession
    from portal.ledger.operations import verify_relay
    from portal.sales.models import Payment, Sale
    from tests.conftest import fresh_database_url, make_test_app

    with fresh_database_url(tmp_path, "cash-migration") as url:
        app = make_test_app(url)
        with app.app_context():
            upgrade(revision=BEFORE_SESSIONS)
            with db.engine.begin() as connection:
                old = _old_relay_with_a_closed_day(connection)
            upgrade()
            closed = db.session.get(CashSession, 7)  # the same id: its ledger entry names it
            assert (closed.payload_format, closed.day, closed.closed_at) == (1, date(2025, 3, 3), old["closed_at"])
            assert closed.opened_at == datetime(2025, 3, 3, 9, 30)  # its first receipt
            assert [(c.method, c.expected_cents, c.counted_cents) for c in closed.counts] == [
                ("cash", 500, 450), ("card", 0, 0), ("cheque", 1000, 1000)]
            sessions = {sale.id: sale.cash_session_id for sale in db.session.scalars(select(Sale))}
            still_open = db.session.scalar(select(CashSession).where(CashSession.closed_at.is_(None)))
            assert sessions == {1: 7, 2: 7, 3: still_open.id} and still_open.opening_float_cents == 0
            # the cheque's number moved to payment.reference (c4e7a91d2b68) and still verifies
            assert db.session.scalar(select(Payment.reference).where(Payment.method == "cheque")) == "1234567"
            assert verify_relay(1) is None
            db.session.execute(update(CashCount).where(CashCount.session_id == 7, CashCount.method == "cash")
                               .values(counted_cents=500))
            db.session.commit()
            assert "(closing #7)" in verify_relay(1)
            db.session.remove()
            db.engine.dispose()
