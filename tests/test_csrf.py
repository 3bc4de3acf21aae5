"""Forged requests: every POST route refuses a missing or wrong CSRF token (400, a French page,
nothing written), and a copied session cookie stops working at logout and at deactivation."""
import re

import pytest
from sqlalchemy import select

from portal.extensions import db
from portal.security import Role
from tests.conftest import PASSWORD
from tests.test_access import ANON, INVALID, LOGIN, ROLES, TABLE, build_url, world  # noqa: F401 (fixture)

CSRF_ON = pytest.mark.parametrize("app_config", [{"WTF_CSRF_ENABLED": True}], indirect=True)
REFUSED = "Le formulaire a expiré ou n&#39;est pas valide"  # as the page escapes it
TOKEN = re.compile(r'"X-CSRFToken": "([^"]+)"')  # base.html hands it to htmx on <body>
HTMX = {"HX-Request": "true", "HX-Request-Type": "partial"}


def token_of(client, url="/login") -> str:
    """The CSRF token a page gives this client's session."""
    return TOKEN.search(client.get(url).text).group(1)


def log_in(client, user) -> None:
    """Log in through the form, with the page's token, as a browser does."""
    response = client.post("/login", data={"email": user.email, "password": PASSWORD,
                                           "csrf_token": token_of(client)})
    assert response.status_code == 303, "a valid token must let the login through"


def snapshot() -> dict:
    """Every row of every table: what a refused request must leave as it was."""
    return {
        table.name: sorted(map(repr, db.session.execute(select(table)).all()))
        for table in db.metadata.sorted_tables
    }


def post_role(rule: str) -> str:
    """The role for which this POST route does something (so that only the token stops it)."""
    for method, table_rule, own, _ in TABLE:
        if (method, table_rule) == ("POST", rule):
            return next(role for role in ROLES if own[role] not in (403, LOGIN if role == ANON else None))
    raise AssertionError(f"POST {rule} is missing from tests/test_access.py's table")


@CSRF_ON
def test_every_post_route_refuses_a_missing_or_wrong_token(app, world):
    users, targets = world
    rules = sorted(rule.rule for rule in app.url_map.iter_rules() if "POST" in rule.methods)
    assert len(rules) > 40
    clients = {role: app.test_client() for role in ROLES}
    for role, user in users.items():
        log_in(clients[role], user)
    stranger = app.test_client()
    forged = {"wrong token": "not-a-token", "another session's token": token_of(stranger)}
    failures = []
    for rule in rules:
        client, url = clients[post_role(rule)], build_url(rule, targets["own"])
        before = snapshot()
        attempts = [("no token", {}, {}), *((name, {"csrf_token": token}, {}) for name, token in forged.items()),
                    ("another session's token (htmx)", {}, HTMX | {"X-CSRFToken": forged["another session's token"]})]
        for name, data, headers in attempts:
            response = client.post(url, data=INVALID | data, headers=headers)
            if response.status_code != 400 or REFUSED not in response.text:
                failures.append(f"POST {url} with {name}: {response.status_code}")
        if snapshot() != before:
            failures.append(f"POST {url}: the database changed")
    assert not failures, "\n".join(failures)
    assert clients[Role.VOLUNTEER].get("/").status_code == 200  # the refused logouts logged no one out


@CSRF_ON
def test_refusal_is_a_french_page_or_fragment(client):
    page = client.post("/login", data={"email": "a@b.example", "password": "x"})
    assert page.status_code == 400 and '<html lang="fr">' in page.text
    assert "Demande invalide" in page.text and REFUSED in page.text
    fragment = client.post("/login", headers=HTMX | {"X-CSRFToken": "forged"})
    assert fragment.status_code == 400 and REFUSED in fragment.text and "<html" not in fragment.text


# --- a copied session cookie ---------------------------------------------------------------

def session_cookie(client) -> str:
    return client.get_cookie("relais_session").value


def replay(app, cookie: str):
    """A new browser that sends only the copied cookie."""
    thief = app.test_client()
    thief.set_cookie("relais_session", cookie)
    return thief


def assert_sent_to_login(response) -> None:
    assert response.status_code == 303 and response.headers["Location"].startswith("/login")


@CSRF_ON
def test_cookie_copied_before_logout_is_dead_after_it(app, client, make_user):
    log_in(client, make_user())
    token = token_of(client, "/")  # first: the page puts the token in the session, then the cookie
    copied = session_cookie(client)
    assert replay(app, copied).get("/").status_code == 200  # the copy works while the session lives
    assert client.post("/logout", data={"csrf_token": token}).status_code == 303
    thief = replay(app, copied)
    assert_sent_to_login(thief.get("/"))
    # The copy holds a valid CSRF token too, which opens nothing.
    assert_sent_to_login(thief.post("/users/new", data={"csrf_token": token, "email": "x@y.example"}))


@CSRF_ON
def test_cookie_of_an_account_an_admin_deactivated_is_dead_even_after_reactivation(app, client, make_user):
    volunteer, admin = make_user(Role.VOLUNTEER), make_user(Role.ADMIN)
    log_in(client, volunteer)
    copied = session_cookie(client)
    admin_client = app.test_client()
    log_in(admin_client, admin)
    token = token_of(admin_client, "/users/")
    assert admin_client.post(f"/users/{volunteer.id}/deactivate", data={"csrf_token": token}).status_code == 303
    assert_sent_to_login(replay(app, copied).get("/"))
    assert_sent_to_login(client.get("/"))
    assert admin_client.post(f"/users/{volunteer.id}/activate", data={"csrf_token": token}).status_code == 303
    assert_sent_to_login(replay(app, copied).get("/"))  # reactivation opens new sessions only
    log_in(client, volunteer)
    assert client.get("/").status_code == 200
