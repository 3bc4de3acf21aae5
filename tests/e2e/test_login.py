"""The login journey in a real browser, for every demo role, with htmx and without JavaScript."""
import re

import pytest
from flask import url_for
from playwright.sync_api import expect

from portal.demo import DEMO_PASSWORD, DEMO_USERS
from portal.templating import NAVIGATION

WRONG_PASSWORD = "pas-le-bon-mot-de-passe"
LOGIN_URL = re.compile(r"/login\?next=(%2F|/)$")  # where "/" sends an anonymous visitor

FAILED = "Adresse e-mail ou mot de passe incorrect."


def user_id(user) -> str:
    return user[0].split("@")[0]


def is_login_post(response) -> bool:
    return response.request.method == "POST" and "/login" in response.url


def expected_navigation(app, role) -> list[tuple[str, str]]:
    """(label, href) of the links NAVIGATION gives this role, in order."""
    with app.test_request_context():
        return [(label, url_for(endpoint)) for endpoint, label, roles in NAVIGATION if role in roles]


def assert_htmx_ready(page) -> None:
    """The enhanced path really runs: htmx 4 loaded and took over the login form."""
    version = page.evaluate("() => window.htmx && window.htmx.version")
    assert version and version.startswith("4."), f"htmx not loaded (window.htmx.version = {version!r})"
    expect(page.locator("form[hx-post]")).to_have_attribute("data-htmx-powered", "true")


def fill_login(page, email: str, password: str) -> None:
    page.get_by_label("Adresse e-mail", exact=True).fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(password)


def submit_login(page):
    """Click "Se connecter"; the response to the login POST."""
    with page.expect_response(is_login_post) as posted:
        page.get_by_role("button", name="Se connecter").click()
    return posted.value


def login_journey(page, axe_check, live_server, user, javascript: bool) -> None:
    email, display_name, role, _ = user

    page.goto("/")
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Connexion")
    expect(page.locator("#flashes")).to_contain_text("Connectez-vous pour continuer.")
    if javascript:
        assert_htmx_ready(page)
    axe_check(page)

    fill_login(page, email, DEMO_PASSWORD)
    response = submit_login(page)
    request_headers = response.request.headers
    if javascript:  # htmx POST (CSRF header from <body hx-headers:inherited>), then HX-Redirect
        assert response.status == 204, response.status
        assert response.headers.get("hx-redirect") == "/"
        assert request_headers.get("hx-request") == "true"
        assert request_headers.get("x-csrftoken"), "htmx sent no X-CSRFToken header"
    else:  # plain form POST, then 303 See Other
        assert response.status == 303, response.status
        assert response.headers.get("location") == "/"
        assert "hx-request" not in request_headers

    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bonjour {display_name}")
    expect(page.locator("header")).to_contain_text(display_name)

    nav = page.get_by_role("navigation", name="Navigation principale")
    links = nav.get_by_role("link")
    expected = expected_navigation(live_server.app, role)
    expect(links).to_have_text([label for label, _ in expected])
    assert [a.get_attribute("href") for a in links.all()] == [href for _, href in expected]
    expect(nav.get_by_role("link", name="Accueil")).to_have_attribute("aria-current", "page")
    axe_check(page)

    page.get_by_role("button", name="Se déconnecter").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator("#flashes")).to_contain_text("Vous êtes déconnecté·e.")
    page.goto("/")  # the session is really over
    expect(page).to_have_url(LOGIN_URL)


@pytest.mark.parametrize("user", DEMO_USERS, ids=user_id)
def test_login_journey_with_htmx(page, axe_check, live_server, user):
    login_journey(page, axe_check, live_server, user, javascript=True)


@pytest.mark.parametrize("user", DEMO_USERS, ids=user_id)
def test_login_journey_without_javascript(page_nojs, axe_check, live_server, user):
    login_journey(page_nojs, axe_check, live_server, user, javascript=False)


def test_wrong_password_fails_in_place_with_htmx(page, axe_check, live_server):
    email = DEMO_USERS[-1][0]
    page.goto("/login")
    assert_htmx_ready(page)
    page.evaluate("() => { window.e2eNoReload = 'same document'; }")

    fill_login(page, email, WRONG_PASSWORD)
    response = submit_login(page)
    assert response.status == 422, response.status
    assert response.request.headers.get("hx-request-type") == "partial"
    assert "<body" not in response.text(), "a full page came back instead of the form fragment"

    form = page.locator("form[hx-post]")
    expect(form.get_by_role("alert")).to_have_text(FAILED)
    assert page.evaluate("() => window.e2eNoReload") == "same document", "the page was reloaded"
    expect(page).to_have_url(f"{live_server.url}/login")
    expect(page.get_by_label("Adresse e-mail", exact=True)).to_have_value(email)
    expect(page.get_by_label("Mot de passe", exact=True)).to_have_value("")
    axe_check(page)

    # The swapped-in form is enhanced too: the right password now logs in through htmx.
    expect(form).to_have_attribute("data-htmx-powered", "true")
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    response = submit_login(page)
    assert response.status == 204 and response.headers.get("hx-redirect") == "/"
    expect(page).to_have_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Bonjour {DEMO_USERS[-1][1]}")


def test_wrong_password_without_javascript(page_nojs, axe_check, live_server):
    email = DEMO_USERS[-1][0]
    page_nojs.goto("/login")
    fill_login(page_nojs, email, WRONG_PASSWORD)
    response = submit_login(page_nojs)
    assert response.status == 422, response.status

    expect(page_nojs.get_by_role("heading", level=1)).to_have_text("Connexion")
    expect(page_nojs.locator("form").get_by_role("alert")).to_have_text(FAILED)
    expect(page_nojs.get_by_label("Adresse e-mail", exact=True)).to_have_value(email)
    axe_check(page_nojs)

    page_nojs.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    response = submit_login(page_nojs)
    assert response.status == 303, response.status
    expect(page_nojs).to_have_url(f"{live_server.url}/")


def test_csrf_is_on_in_the_live_server(page):
    """As in production, a login POST without the form's CSRF token is refused."""
    response = page.request.post("/login", form={"email": DEMO_USERS[0][0], "password": DEMO_PASSWORD},
                                 max_redirects=0)
    assert response.status == 400, response.status
    assert "Le formulaire a expiré" in response.text()
