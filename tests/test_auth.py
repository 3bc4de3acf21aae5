"""Login, logout, throttling, sessions and passwords."""
import time

import pytest

from portal.audit.models import AuditEvent
from portal.extensions import db
from portal.security import Role
from tests.conftest import PASSWORD


def audit_actions():
    return [e.action for e in db.session.scalars(db.select(AuditEvent).order_by(AuditEvent.id))]


def session_cookie(client):
    return client.get_cookie("relais_session").value


def test_login_success_lands_on_home_and_is_logged(client, make_user, login):
    user = make_user(Role.VOLUNTEER, display_name="Amina")
    r = login(user)
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert "Bonjour Amina" in client.get("/").text
    assert audit_actions() == ["login.success"]
    assert user.last_login_at is not None


@pytest.mark.parametrize("email, password, message", [
    ("", PASSWORD, "Saisissez votre adresse e-mail."),
    ("someone@test.example", "", "Saisissez votre mot de passe."),
    ("nobody@test.example", PASSWORD, "Adresse e-mail ou mot de passe incorrect."),
    ("KNOWN", "wrong-password-123", "Adresse e-mail ou mot de passe incorrect."),
])
def test_login_fails_in_place(client, make_user, email, password, message):
    user = make_user(email="known@test.example")
    email = user.email.upper() if email == "KNOWN" else email
    r = client.post("/login", data={"email": email, "password": password})
    assert r.status_code == 422
    assert message.replace("'", "&#39;") in r.text
    assert f'value="{email.strip().lower()}"' in r.text or not email  # input kept


def test_email_is_case_and_space_insensitive(client, make_user):
    make_user(email="marie@test.example")
    r = client.post("/login", data={"email": "  Marie@Test.example ", "password": PASSWORD})
    assert r.status_code == 303


def test_deactivated_account_cannot_log_in(client, make_user, login):
    user = make_user(active=False)
    assert login(user).status_code == 422
    assert db.session.scalar(db.select(AuditEvent.detail).where(AuditEvent.action == "login.failure")) == "compte désactivé"


def test_five_failures_for_an_account_block_it_with_429(client, make_user):
    user = make_user()
    for i in range(5):
        # from five different addresses: the account limit, not the address limit, applies
        r = client.post("/login", data={"email": user.email, "password": "wrong-password-x"},
                        environ_base={"REMOTE_ADDR": f"10.0.0.{i}"})
        assert r.status_code == 422
    r = client.post("/login", data={"email": user.email, "password": PASSWORD},
                    environ_base={"REMOTE_ADDR": "10.0.0.99"})
    assert r.status_code == 429
    assert "Trop de tentatives de connexion" in r.text
    assert "login.blocked" in audit_actions()


def test_five_failures_from_an_address_block_it(client, make_user):
    users = [make_user() for _ in range(6)]
    for user in users[:5]:
        client.post("/login", data={"email": user.email, "password": "wrong-password-x"},
                    environ_base={"REMOTE_ADDR": "192.0.2.7"})
    r = client.post("/login", data={"email": users[5].email, "password": PASSWORD},
                    environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert r.status_code == 429
    other_address = client.post("/login", data={"email": users[5].email, "password": PASSWORD},
                                environ_base={"REMOTE_ADDR": "192.0.2.8"})
    assert other_address.status_code == 303


def test_failures_older_than_the_window_do_not_count(client, make_user):
    user = make_user()
    for _ in range(5):
        client.post("/login", data={"email": user.email, "password": "wrong-password-x"})
    for event in db.session.scalars(db.select(AuditEvent)):
        event.at = event.at.replace(year=event.at.year - 1)
    db.session.commit()
    assert client.post("/login", data={"email": user.email, "password": PASSWORD}).status_code == 303


def test_a_success_resets_the_count(client, make_user, login):
    user = make_user()
    for _ in range(4):
        client.post("/login", data={"email": user.email, "password": "wrong-password-x"})
    assert login(user).status_code == 303
    client.post("/logout")
    for _ in range(4):
        client.post("/login", data={"email": user.email, "password": "wrong-password-x"})
    assert login(user).status_code == 303


def test_logout_is_post_only_and_ends_the_session(client, make_user, login):
    login(make_user())
    assert client.get("/logout").status_code == 405
    r = client.post("/logout")
    assert r.status_code == 303 and r.headers["Location"] == "/login"
    assert client.get("/").status_code == 303
    assert "logout" in audit_actions()


def test_cookie_replayed_after_logout_is_rejected(client, make_user, login):
    login(make_user())
    stolen = session_cookie(client)
    client.post("/logout")
    client.set_cookie("relais_session", stolen)
    r = client.get("/")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")


def test_cookie_of_a_deactivated_account_is_rejected(client, make_user, login):
    user = make_user()
    login(user)
    assert client.get("/").status_code == 200
    user.active = False
    db.session.commit()
    assert client.get("/").status_code == 303


def test_idle_session_expires(app, client, make_user, login):
    login(make_user())
    with client.session_transaction() as s:
        s["seen"] = int(time.time()) - app.config["IDLE_TIMEOUT_MINUTES"] * 60 - 5
    r = client.get("/")
    assert r.status_code == 303 and r.headers["Location"].startswith("/login")
    assert "expiré" in client.get(r.headers["Location"]).text


def test_session_cookie_flags(client, make_user, login):
    r = login(make_user())
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    r = client.post("/login", data={"email": "x@test.example", "password": "y" * 10},
                    base_url="https://portal.test")
    assert "Secure" in r.headers["Set-Cookie"]


@pytest.mark.parametrize("next_url, expected", [
    ("/users/", "/users/"),
    ("https://evil.example/", "/"),
    ("//evil.example/", "/"),
    ("/\\evil.example", "/"),
])
def test_login_redirects_only_within_the_site(client, make_user, next_url, expected):
    user = make_user(Role.MANAGER)
    r = client.post(f"/login?next={next_url}", data={"email": user.email, "password": PASSWORD})
    assert r.headers["Location"] == expected


def test_anonymous_is_sent_to_login_with_next(client):
    r = client.get("/users/")
    assert r.status_code == 303
    assert r.headers["Location"] == "/login?next=/users/"


def test_expired_login_redirects_whole_page_for_htmx(client):
    r = client.get("/users/", headers={"HX-Request": "true", "HX-Request-Type": "partial"})
    assert r.status_code == 204
    assert r.headers["HX-Redirect"] == "/login?next=/users/"


@pytest.mark.parametrize("current, new, confirm, message", [
    ("wrong-password-0", "un-nouveau-mot-2026", "un-nouveau-mot-2026", "Le mot de passe actuel n&#39;est pas le bon."),
    (PASSWORD, "court", "court", "au moins 10 caractères"),
    (PASSWORD, "azertyuiop", "azertyuiop", "trop courant"),
    (PASSWORD, "Motdepasse123", "Motdepasse123", "trop courant"),
    (PASSWORD, "un-nouveau-mot-2026", "un-autre-mot-2026", "ne sont pas identiques"),
    (PASSWORD, "x" * 201, "x" * 201, "200 caractères"),
])
def test_change_password_refusals(client, make_user, login, current, new, confirm, message):
    login(make_user())
    r = client.post("/password", data={"current": current, "new": new, "confirm": confirm})
    assert r.status_code == 422
    assert message in r.text


def test_change_password_ends_other_sessions(app, make_user, login, client):
    user = make_user()
    other_device = app.test_client()
    other_device.post("/login", data={"email": user.email, "password": PASSWORD})
    login(user)
    r = client.post("/password", data={"current": PASSWORD, "new": "une phrase facile à retenir",
                                       "confirm": "une phrase facile à retenir"})
    assert r.status_code == 303
    assert client.get("/").status_code == 200            # this session goes on
    assert other_device.get("/").status_code == 303      # the other one is closed
    client.post("/logout")
    assert client.post("/login", data={"email": user.email, "password": "une phrase facile à retenir"}).status_code == 303
    assert "user.password" in audit_actions()


@pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], indirect=True)
def test_post_without_csrf_token_is_refused(client, make_user):
    user = make_user()
    r = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert r.status_code == 400
    assert "Le formulaire a expiré" in r.text
