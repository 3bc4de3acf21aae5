"""The Alembic migrations build exactly the schema the models describe."""
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import db


def test_migrations_match_models(app):
    with db.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), db.metadata)
    assert diff == [], "models changed without a migration: run `flask db migrate`"


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

            downgrade(revision="9d4b6e2f1c07")  # the schema the sale would have been recorded on
            with db.engine.begin() as connection:
                assert connection.execute(text("SELECT method, cheque_number FROM payment")).all() == [
                    ("cheque", "1234567")]
            upgrade()

            assert db.session.scalar(text("SELECT reference FROM payment")) == "1234567"
            assert verify_relay(relay_id) is None
            db.session.remove()
            db.engine.dispose()
