"""Accounts: who manages whom, validation, deactivation (never deletion), audit."""
import pytest

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.security import Role
from portal.users.models import User

GOOD_PASSWORD = "une phrase de passe solide"


def form(**overrides):
    data = {"email": "nouvelle@test.example", "display_name": "Nouvelle bénévole",
            "role": Role.VOLUNTEER, "relay_id": 0, "territory_id": 0, "password": GOOD_PASSWORD}
    return data | overrides


def find(email):
    return db.session.scalar(db.select(User).filter_by(email=email))


def test_admin_creates_accounts_of_every_role(client, login, make_user, make_relay):
    relay = make_relay()
    login(make_user(Role.ADMIN))
    for role, extra in [(Role.VOLUNTEER, {"relay_id": relay.id}), (Role.MANAGER, {"relay_id": relay.id}),
                        (Role.COORDINATOR, {"territory_id": relay.territory_id}), (Role.ADMIN, {})]:
        r = client.post("/users/new", data=form(email=f"{role}@new.example", role=role, **extra))
        assert r.status_code == 303, r.text
        user = find(f"{role}@new.example")
        assert user.role == role and user.check_password(GOOD_PASSWORD)
    # relay and territory follow from the role: an admin has neither
    assert find("admin@new.example").relay_id is None and find("admin@new.example").territory_id is None


@pytest.mark.parametrize("field, value, message", [
    ("email", "", "Saisissez l&#39;adresse e-mail."),
    ("email", "pas-une-adresse", "Cette adresse e-mail n&#39;est pas valide."),
    ("email", "a" * 250 + "@x.fr", "254 caractères au plus."),
    ("display_name", "", "Saisissez le nom affiché"),
    ("display_name", "x" * 121, "120 caractères au plus."),
    ("role", "superuser", "N&#39;est pas un choix valide."),
    ("relay_id", 0, "Choisissez la structure de ce compte."),
    ("relay_id", 999999, "N&#39;est pas un choix valide."),
    ("password", "court", "au moins 10 caractères"),
    ("password", "1234567890", "trop courant"),
    ("password", "", "Choisissez un mot de passe pour ce nouveau compte."),
])
def test_account_form_validation(client, login, make_user, field, value, message):
    admin = make_user(Role.ADMIN)
    relay_id = make_user(Role.VOLUNTEER).relay_id
    login(admin)
    r = client.post("/users/new", data=form(relay_id=relay_id) | {field: value})
    assert r.status_code == 422
    assert message in r.text
    assert find("nouvelle@test.example") is None


def test_coordinator_needs_a_territory(client, login, make_user, make_territory):
    make_territory()
    login(make_user(Role.ADMIN))
    r = client.post("/users/new", data=form(role=Role.COORDINATOR))
    assert r.status_code == 422 and "Choisissez le territoire de ce compte." in r.text


def test_email_must_be_unique(client, login, make_user):
    existing = make_user(email="deja@test.example")
    login(make_user(Role.ADMIN))
    r = client.post("/users/new", data=form(email="DEJA@test.example", relay_id=existing.relay_id))
    assert r.status_code == 422 and "Un compte utilise déjà cette adresse e-mail." in r.text


def test_manager_creates_volunteers_of_their_relay_only(client, login, make_user, make_relay):
    manager = make_user(Role.MANAGER)
    elsewhere = make_relay(territory=manager.relay.territory)
    login(manager)
    assert client.post("/users/new", data=form(relay_id=manager.relay_id)).status_code == 303
    assert find("nouvelle@test.example").relay_id == manager.relay_id
    refused = [
        form(email="a@x.fr", relay_id=elsewhere.id),                       # another relay
        form(email="b@x.fr", role=Role.MANAGER, relay_id=manager.relay_id),  # a manager
        form(email="c@x.fr", role=Role.ADMIN),                              # an admin
    ]
    for data in refused:
        assert client.post("/users/new", data=data).status_code == 422
        assert find(data["email"]) is None


def test_manager_cannot_touch_another_manager_or_themselves(client, login, make_user):
    manager = make_user(Role.MANAGER)
    colleague = make_user(Role.MANAGER, relay=manager.relay)
    login(manager)
    assert client.get(f"/users/{colleague.id}/edit").status_code == 403
    assert client.post(f"/users/{colleague.id}/deactivate").status_code == 403
    assert client.post(f"/users/{manager.id}/deactivate").status_code == 403
    assert colleague.active and manager.active


def test_coordinator_cannot_create_admins_nor_leave_their_territory(client, login, make_user, make_relay):
    coordinator = make_user(Role.COORDINATOR)
    other_relay = make_relay()  # in another territory
    login(coordinator)
    assert client.post("/users/new", data=form(role=Role.ADMIN)).status_code == 422
    assert client.post("/users/new", data=form(relay_id=other_relay.id)).status_code == 422
    assert client.post("/users/new", data=form(
        role=Role.COORDINATOR, territory_id=other_relay.territory_id)).status_code == 422
    assert find("nouvelle@test.example") is None


def test_edit_keeps_password_when_left_empty(client, login, make_user):
    volunteer = make_user(display_name="Avant")
    old_hash = volunteer.password_hash
    login(make_user(Role.MANAGER, relay=volunteer.relay))
    r = client.post(f"/users/{volunteer.id}/edit", data=form(
        email=volunteer.email, display_name="Après", relay_id=volunteer.relay_id, password=""))
    assert r.status_code == 303
    assert volunteer.display_name == "Après" and volunteer.password_hash == old_hash


def test_deactivate_then_reactivate_never_deletes(app, client, login, make_user):
    volunteer = make_user()
    volunteer_device = app.test_client()
    volunteer_device.post("/login", data={"email": volunteer.email, "password": "un-mot-de-passe-de-test"})
    login(make_user(Role.MANAGER, relay=volunteer.relay))
    assert client.post(f"/users/{volunteer.id}/deactivate").status_code == 303
    assert volunteer.active is False
    assert volunteer_device.get("/").status_code == 303  # thrown out at once
    assert "Désactivé" in client.get("/users/").text
    assert client.post(f"/users/{volunteer.id}/activate").status_code == 303
    assert volunteer.active is True and db.session.get(User, volunteer.id) is not None
    actions = db.session.scalars(db.select(AuditEvent.action).where(
        AuditEvent.subject == f"user:{volunteer.id}", AuditEvent.action.startswith("user.")))
    assert list(actions) == ["user.deactivate", "user.activate"]


def test_user_list_is_scoped(client, login, make_user):
    manager = make_user(Role.MANAGER, display_name="Référente")
    mine = make_user(relay=manager.relay, display_name="Bénévole d'ici")
    theirs = make_user(display_name="Bénévole d'ailleurs")
    login(manager)
    page = client.get("/users/").text
    assert mine.email in page and theirs.email not in page
