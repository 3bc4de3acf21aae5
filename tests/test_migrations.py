"""The Alembic migrations build exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

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

            upgrade()
            prints = db.session.execute(sa.text(
                "SELECT sale_id, number, printed_at, printed_by_id FROM receipt_print ORDER BY sale_id, number")).all()
            assert [tuple(row) for row in prints] == [(1, 0, None, None), (1, 1, None, None), (1, 2, None, None),
                                                      (3, 0, None, None)]
            assert db.session.scalar(sa.text("SELECT count(*) FROM sale_line")) == 3  # the sales kept their lines
            db.session.rollback()  # a snapshot from before the downgrade would not see its column

            downgrade(revision=before)
            counts = db.session.execute(sa.text("SELECT id, print_count FROM sale ORDER BY id")).all()
            assert [tuple(row) for row in counts] == [(1, 3), (2, 0), (3, 1)]


def test_a_sale_sealed_before_the_payment_reference_still_verifies(tmp_path):
    """c4e7a91d2b68 renames payment.cheque_number to reference and drops the list of methods from
    the schema: a cheque recorded on the old schema keeps its number, and its ledger entry (which
    seals [method, amount, given, number]) still verifies after the upgrade."""
    import uuid

    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from portal.catalogue.models import Product, ProductOffer
    from portal.ledger.operations import verify_relay
    from portal.relays.models import Relay, Territory
    from portal.sales.operations import LineRequest, PaymentRequest, record_sale, sale_payload
    from portal.security import Role
    from portal.stock.operations import move_stock
    from portal.users.models import User
    from tests.conftest import fresh_database_url, make_test_app

    with fresh_database_url(tmp_path, "migration") as url:
        app = make_test_app(url)
        with app.app_context():
            upgrade()
            relay = Relay(territory=Territory(name="Hautes-Alpes"), name="CADA Gap", code="CADA", town="Gap")
            user = User(role=Role.VOLUNTEER, relay=relay, email="b@test.example", display_name="Awa")
            user.set_password("une phrase de passe longue")
            case = Product(code="COQUE", name="Coque", category="accessory", price_cents=600, reference_cents=600,
                           eligibility_required=False)
            db.session.add_all([user, case])
            db.session.flush()
            db.session.add(ProductOffer(product_id=case.id, relay_id=relay.id))
            move_stock(relay.id, case.id, 5, "delivery", None, "BL")
            db.session.commit()
            sale = record_sale(user, uuid.uuid4().hex, [LineRequest(case.id)], [PaymentRequest("cheque", 600, None, "1234567")])
            assert sale_payload(sale)["payments"] == [["cheque", 600, None, "1234567"]]  # the sealed shape
            relay_id = relay.id
            db.session.remove()

            downgrade(revision="59aca4757006")  # the schema the sale would have been recorded on
            with db.engine.begin() as connection:
                assert connection.execute(text("SELECT method, cheque_number FROM payment")).all() == [
                    ("cheque", "1234567")]
            upgrade()

            assert db.session.scalar(text("SELECT reference FROM payment")) == "1234567"
            assert verify_relay(relay_id) is None
            db.session.remove()
            db.engine.dispose()
