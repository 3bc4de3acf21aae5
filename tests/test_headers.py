"""Security headers on every kind of response, and templates the Content-Security-Policy can serve."""
import re
from pathlib import Path

import pytest

from portal.security import Role

TEMPLATES = Path(__file__).resolve().parents[1] / "portal" / "templates"
# What a CSP without 'unsafe-inline' refuses: a script without src, an event handler attribute,
# a style attribute or block; and what needs 'unsafe-eval' in htmx 4 (hx-on, js: values).
INLINE_CODE = re.compile(r"<script(?![^>]*\bsrc=)|<style|\bstyle=|\son[a-z]+=|\bhx-on|javascript:|js:", re.I)


def csp(response) -> dict[str, list[str]]:
    """The response's Content-Security-Policy as {directive: sources}."""
    policy = response.headers["Content-Security-Policy"]
    return {name: sources for name, *sources in (part.split() for part in policy.split(";") if part.strip())}


def assert_security_headers(response) -> None:
    policy = csp(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"] and policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"] and policy["form-action"] == ["'self'"]
    assert not any(source.startswith("'unsafe-") for sources in policy.values() for source in sources)
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] in ("same-origin", "no-referrer", "strict-origin")
    assert "Strict-Transport-Security" not in response.headers  # plain HTTP


@pytest.fixture
def volunteer(client, make_user, login):
    user = make_user(Role.VOLUNTEER)
    assert login(user).status_code == 303
    return user


FRAGMENT = {"HX-Request": "true", "HX-Request-Type": "partial"}


@pytest.mark.parametrize("url, headers, status, mimetype", [
    ("/login", {}, 200, "text/html"),
    ("/login", FRAGMENT, 200, "text/html"),
    ("/no-such-page", {}, 404, "text/html"),
    ("/no-such-page", FRAGMENT, 404, "text/html"),
    ("/static/app.css", {}, 200, "text/css"),
    ("/static/print.css", {}, 200, "text/css"),
])
def test_anonymous_responses_carry_the_headers(client, url, headers, status, mimetype):
    with client.get(url, headers=headers) as response:  # a static file is streamed: close it
        assert (response.status_code, response.mimetype) == (status, mimetype)
        assert_security_headers(response)


def test_a_fragment_is_a_fragment_and_carries_the_headers(client):
    response = client.get("/login", headers=FRAGMENT)
    assert "<html" not in response.text
    assert_security_headers(response)


@pytest.mark.parametrize("url, mimetype", [
    ("/", "text/html"),
    ("/beneficiaries/notice.pdf", "application/pdf"),
    ("/beneficiaries/notice", "text/html"),  # the PDF's HTML twin, served under the same policy
])
def test_logged_in_responses_carry_the_headers(client, volunteer, url, mimetype):
    response = client.get(url)
    assert (response.status_code, response.mimetype) == (200, mimetype)
    assert_security_headers(response)


def test_a_csv_export_carries_the_headers(client, make_user, login):
    assert login(make_user(Role.MANAGER)).status_code == 303
    response = client.get("/reports/figures.csv")
    assert (response.status_code, response.mimetype) == (200, "text/csv")
    assert_security_headers(response)


def test_the_pdf_twin_has_no_inline_style(client, volunteer):
    html = client.get("/beneficiaries/notice").text
    assert "<style" not in html and " style=" not in html
    assert 'rel="stylesheet" href="/static/print.css?v=' in html


def test_strict_transport_security_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/login").headers
    secure = client.get("/login", base_url="https://localhost")
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    assert int(secure.headers["Strict-Transport-Security"].split("=")[1]) >= 31536000
    assert "Content-Security-Policy" in secure.headers


def test_templates_hold_no_inline_code():
    """The CSP refuses inline scripts, handlers and styles: none in any template."""
    found = [
        f"{path.relative_to(TEMPLATES)}:{number}: {line.strip()}"
        for path in sorted(TEMPLATES.rglob("*.html"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if INLINE_CODE.search(line)
    ]
    assert not found, "inline code the Content-Security-Policy would refuse:\n" + "\n".join(found)
