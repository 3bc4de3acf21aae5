"""CLI: seed-demo and create-user."""
from portal.demo import DEMO_PASSWORD, DEMO_RELAYS
from portal.extensions import db
from portal.relays.models import Relay, Territory
from portal.security import Role
from portal.users.models import User

EXPECTED_ACCOUNTS = {
    ("admin@relais05.example", Role.ADMIN, None, None),
    ("coordination@relais05.example", Role.COORDINATOR, None, "Hautes-Alpes"),
    ("referent.spf-gap@relais05.example", Role.MANAGER, "Secours Populaire Gap", None),
    ("benevole.spf-gap@relais05.example", Role.VOLUNTEER, "Secours Populaire Gap", None),
    ("benevole.cada-briancon@relais05.example", Role.VOLUNTEER, "CADA Briançon – Fondation Edith Seltzer", None),
    ("referent.cada-briancon@relais05.example", Role.MANAGER, "CADA Briançon – Fondation Edith Seltzer", None),
}


def test_seed_demo_creates_the_hautes_alpes_relays_and_exactly_six_accounts(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0 and "demo-relais-05" in result.output
    accounts = {(u.email, u.role, u.relay.name if u.relay else None, u.territory.name if u.territory else None)
                for u in db.session.scalars(db.select(User))}
    assert accounts == EXPECTED_ACCOUNTS
    assert all(u.check_password(DEMO_PASSWORD) for u in db.session.scalars(db.select(User)))
    assert db.session.scalar(db.select(Territory.name)) == "Hautes-Alpes"
    assert sorted(db.session.scalars(db.select(Relay.code))) == sorted(code for code, *_ in DEMO_RELAYS)


def test_seed_demo_does_nothing_on_a_database_with_data(runner, make_relay):
    make_relay()
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0 and "déjà des données" in result.output
    assert db.session.scalar(db.select(db.func.count()).select_from(User)) == 0


def test_create_user(runner, make_relay):
    relay = make_relay(code="APPASE")
    result = runner.invoke(args=["create-user", "Nouvelle@Relais.example", "--name", "Nouvelle",
                                 "--role", "manager", "--relay", "appase", "--password", "un mot de passe sûr"])
    assert result.exit_code == 0, result.output
    user = db.session.scalar(db.select(User).filter_by(email="nouvelle@relais.example"))
    assert user.relay_id == relay.id and user.check_password("un mot de passe sûr")


def test_create_user_refuses_weak_password_and_unknown_relay(runner):
    weak = runner.invoke(args=["create-user", "a@b.fr", "--name", "A", "--password", "azertyuiop"])
    assert weak.exit_code != 0 and "trop courant" in weak.output
    unknown = runner.invoke(args=["create-user", "a@b.fr", "--name", "A", "--role", "volunteer",
                                  "--relay", "NOPE", "--password", "un mot de passe sûr"])
    assert unknown.exit_code != 0 and "Aucune structure" in unknown.output
    assert db.session.scalar(db.select(User)) is None
