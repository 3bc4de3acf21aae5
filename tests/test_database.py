"""The one write transaction: committed when its block ends, rolled back whole when it raises."""
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from portal.database import write_transaction
from portal.errors import Refused
from portal.extensions import db
from portal.relays.models import Territory


def committed(*names: str) -> int:
    """How many of these territories another connection sees."""
    with db.engine.connect() as other:
        return other.scalar(select(func.count(Territory.id)).where(Territory.name.in_(names)))


def test_a_write_transaction_commits_when_its_block_ends(app):
    with write_transaction():
        db.session.add(Territory(name="Hautes-Alpes"))
    assert committed("Hautes-Alpes") == 1


def test_a_refusal_rolls_the_whole_block_back_and_reaches_the_caller_with_its_field(app):
    with pytest.raises(Refused) as refused:
        with write_transaction():
            db.session.add(Territory(name="Hautes-Alpes"))
            db.session.flush()  # written to the database, not committed
            db.session.add(Territory(name="Alpes-de-Haute-Provence"))
            raise Refused("Ce territoire existe déjà.", "name")
    assert (refused.value.message, refused.value.field) == ("Ce territoire existe déjà.", "name")
    assert str(refused.value) == "Ce territoire existe déjà."
    db.session.commit()  # what the session commits next holds nothing of the block
    assert committed("Hautes-Alpes", "Alpes-de-Haute-Provence") == 0


def test_a_commit_that_fails_is_rolled_back_and_the_session_serves_again(app):
    with pytest.raises(IntegrityError):
        with write_transaction():
            db.session.add(Territory(name="Drôme"))
            db.session.add_all([Territory(name="Savoie"), Territory(name="Savoie")])  # a unique name twice
    assert committed("Drôme", "Savoie") == 0
    assert db.session.scalar(select(func.count(Territory.id))) == 0  # no "rollback first" error
