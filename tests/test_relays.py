"""Territories and relays: who creates them, validation, uniqueness, audit."""
import pytest

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.relays.models import Relay, Territory
from portal.security import Role


def relay_form(territory_id, **overrides):
    data = {"name": "Secours Populaire Laragne", "organisation": "SPF", "town": "Laragne-Montéglin", "receipt_format": "A5",
            "code": "spflar", "address": "Rue du Pont, 05300 Laragne", "territory_id": territory_id, "active": "y"}
    return data | overrides


def test_admin_creates_a_territory(client, login, make_user):
    login(make_user(Role.ADMIN))
    assert client.post("/territories/new", data={"name": "Alpes-de-Haute-Provence"}).status_code == 303
    assert db.session.scalar(db.select(Territory.name)) == "Alpes-de-Haute-Provence"
    r = client.post("/territories/new", data={"name": "alpes-de-haute-provence"})
    assert r.status_code == 422 and "Un territoire porte déjà ce nom." in r.text


def test_coordinator_creates_a_relay_in_their_territory(client, login, make_user):
    coordinator = make_user(Role.COORDINATOR)
    login(coordinator)
    r = client.post("/relays/new", data=relay_form(coordinator.territory_id))
    assert r.status_code == 303
    relay = db.session.scalar(db.select(Relay).filter_by(code="SPFLAR"))  # code upper-cased
    assert relay.territory_id == coordinator.territory_id and relay.town == "Laragne-Montéglin"
    assert r.headers["Location"] == f"/relays/{relay.id}"
    assert db.session.scalar(db.select(AuditEvent.action).where(AuditEvent.subject == f"relay:{relay.id}")) == "relay.save"


def test_coordinator_cannot_put_a_relay_in_another_territory(client, login, make_user, make_territory):
    coordinator = make_user(Role.COORDINATOR)
    elsewhere = make_territory()
    login(coordinator)
    r = client.post("/relays/new", data=relay_form(elsewhere.id))
    assert r.status_code == 422
    assert db.session.scalar(db.select(Relay).filter_by(code="SPFLAR")) is None


@pytest.mark.parametrize("field, value, message", [
    ("name", "", "Saisissez le nom de la structure."),
    ("name", "n" * 121, "120 caractères au plus."),
    ("town", "", "Saisissez la commune."),
    ("code", "", "Saisissez un code court."),
    ("code", "S", "De 2 à 12 lettres majuscules ou chiffres"),
    ("code", "SPF GAP", "De 2 à 12 lettres majuscules ou chiffres"),
    ("code", "BRIANÇON", "De 2 à 12 lettres majuscules ou chiffres"),
    ("code", "ABCDEFGHIJKLM", "De 2 à 12 lettres majuscules ou chiffres"),
    ("address", "a" * 301, "300 caractères au plus."),
    ("territory_id", "abc", "Choix non valide, ne peut pas être converti."),
])
def test_relay_form_validation(client, login, make_user, field, value, message):
    admin = make_user(Role.ADMIN)
    territory_id = make_user(Role.COORDINATOR).territory_id
    login(admin)
    r = client.post("/relays/new", data=relay_form(territory_id) | {field: value})
    assert r.status_code == 422
    assert message in r.text


def test_relay_name_and_code_are_unique(client, login, make_user, make_relay):
    existing = make_relay(name="CADA Gap", code="CADAGAP")
    login(make_user(Role.ADMIN))
    r = client.post("/relays/new", data=relay_form(existing.territory_id, name="cada gap", code="cadagap"))
    assert r.status_code == 422
    assert "Une structure porte déjà ce nom." in r.text and "Ce code est déjà utilisé" in r.text


def test_editing_a_relay_keeps_its_own_code(client, login, make_user, make_relay):
    relay = make_relay(code="ENVSOL")
    login(make_user(Role.ADMIN))
    r = client.post(f"/relays/{relay.id}/edit", data=relay_form(relay.territory_id, code="ENVSOL", active=""))
    assert r.status_code == 303
    assert relay.active is False and relay.name == "Secours Populaire Laragne"


def test_manager_sees_their_relay_page_with_its_accounts(client, login, make_user):
    manager = make_user(Role.MANAGER)
    make_user(relay=manager.relay, display_name="Tesfay")
    login(manager)
    page = client.get(f"/relays/{manager.relay_id}").text
    assert manager.relay.name in page and "Tesfay" in page
    assert "Modifier la structure" not in page
