"""Page budget and relay isolation, checked on the demo as each demo account sees it.

For every demo account: log in, crawl every page reachable by following same-site links
(GET only, never a form), and assert for each page that
- it does not fail on the server (status < 500);
- as a full HTML page it weighs at most 14 KB compressed (DESIGN.md, Budgets: one TCP round trip);
- it belongs to no other relay than the account's own (volunteers and managers).
Direct requests for the other relays' pages must be refused (404, or 403 for a role the route
never allows). Coordinators and admins must reach every relay they are in charge of.
"""
import gzip
import re
from collections import Counter, deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from sqlalchemy import select

from portal.demo import DEMO_PASSWORD, DEMO_RELAYS, DEMO_USERS, seed_demo
from portal.extensions import db
from portal.relays.models import Relay
from portal.security import RELAY_ROLES, Role
from portal.users.models import User
from tests.conftest import IsolatedClient, empty_all_tables, make_test_app

PAGE_BUDGET = 14 * 1024  # compressed bytes of one full HTML page
MAX_PAGES = 300  # per account: the demo has a few dozen; more means a crawl gone astray
# Pages of one route (a sale, a person…) share a template: a few of each say what they weigh.
# One per demo relay lets a coordinator still reach each of them.
PER_ROUTE = len(DEMO_RELAYS)
ORIGIN = "http://localhost"  # the test client's default host
SKIPPED_PATHS = ("/logout", "/static/")  # a GET on /logout is a 405, /static/ is not HTML
RELAY_URL = re.compile(r"^/relays/(\d+)(?:/|$)")


class PageParser(HTMLParser):
    """The links, the <h1> and the <title> text of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.h1: list[str] = []
        self.title = ""
        self._in_h1 = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href.strip())
        elif tag == "h1":
            self._in_h1 += 1
            self.h1.append("")
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "h1" and self._in_h1:
            self._in_h1 -= 1
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_h1:
            self.h1[-1] += data
        if self._in_title:
            self.title += data


def site_path(href: str, base: str) -> str | None:
    """`href` (found on the page at `base`) as a path + query on this site, or None."""
    url = urljoin(ORIGIN + base, href)
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or f"{parts.scheme}://{parts.netloc}" != ORIGIN:
        return None  # mailto:, javascript:, another host
    path = parts.path or "/"
    if any(path == p or path.startswith(p) for p in SKIPPED_PATHS):
        return None
    return path + (f"?{parts.query}" if parts.query else "")


def decoded_body(response, min_size: int) -> tuple[bytes, int]:
    """(raw body, compressed size) of a page; an uncompressed body must be below min_size."""
    encoding = response.headers.get("Content-Encoding")
    data = response.get_data()  # the test client does not decompress
    if encoding == "gzip":
        return gzip.decompress(data), len(data)
    if encoding == "br":
        import brotli  # Flask-Compress's own dependency for "br"

        return brotli.decompress(data), len(data)
    assert encoding is None, f"{response.request.path}: unexpected Content-Encoding {encoding!r}"
    size = len(data)
    assert size < min_size, (
        f"{response.request.path}: {size} bytes of HTML sent uncompressed "
        f"(Flask-Compress skips only bodies under COMPRESS_MIN_SIZE={min_size})"
    )
    return data, size  # too small to be worth compressing: trivially within budget


def get(client, url, **kwargs):
    """GET url, its body read whole as a server sends it (the CSV files are streamed); an
    exception inside the app (propagated in TESTING) names the URL."""
    try:
        return client.get(url, buffered=True, **kwargs)
    except Exception as error:  # noqa: BLE001 — re-raised with the URL
        pytest.fail(f"GET {url} raised {error!r} (a 500 for a real user)", pytrace=True)


def crawl(client, app, start="/"):
    """Breadth-first over same-site links; returns {url: page record}."""
    min_size = app.config.get("COMPRESS_MIN_SIZE", 500)  # Flask-Compress's default
    pages: dict[str, dict] = {}
    queue, seen = deque([(start, None)]), {start}
    per_route = Counter()
    while queue:
        url, referrer = queue.popleft()
        assert len(pages) < MAX_PAGES, (
            f"crawl stopped after {MAX_PAGES} pages (next: {url}): the demo should not have that "
            "many pages — paginated or generated links? Raise MAX_PAGES knowingly."
        )
        response = get(client, url, headers={"Accept-Encoding": "gzip"})
        from_where = f" (linked from {referrer})" if referrer else ""
        assert response.status_code < 500, f"GET {url}{from_where} answered {response.status_code}"
        page = {"url": url, "status": response.status_code, "referrer": referrer,
                "raw": None, "compressed": None, "h1": [], "title": ""}
        pages[url] = page
        links = []
        if response.status_code in (301, 302, 303, 307, 308):
            links.append(response.headers["Location"])
        elif response.status_code == 200 and response.mimetype == "text/html":
            body, compressed = decoded_body(response, min_size)
            raw = len(body)
            page.update(raw=raw, compressed=compressed)
            assert compressed <= PAGE_BUDGET, (
                f"GET {url}{from_where}: {compressed} bytes compressed "
                f"({raw} bytes raw), over the budget of {PAGE_BUDGET} bytes ({PAGE_BUDGET / 1024:g} KB)"
            )
            parser = PageParser()
            parser.feed(body.decode(response.mimetype_params.get("charset", "utf-8")))
            parser.close()
            page.update(h1=[" ".join(h.split()) for h in parser.h1], title=" ".join(parser.title.split()))
            links += parser.links
        for href in links:
            target = site_path(href.split("#", 1)[0], url) if not href.startswith("#") else None
            if target and target not in seen:
                seen.add(target)
                route = re.sub(r"\d+", "<n>", urlsplit(target).path)
                per_route[route] += 1
                if per_route[route] <= PER_ROUTE:
                    queue.append((target, url))
    return pages


@pytest.fixture(scope="module")
def report():
    """Largest page per account; shown with `pytest -s` (or on failure), silent otherwise."""
    largest: dict[str, tuple] = {}
    yield largest
    if largest:
        print(f"\nLargest page per demo account (compressed / raw bytes, budget {PAGE_BUDGET}):")
        for account, (url, compressed, raw, count) in largest.items():
            print(f"  {account:42} {url:24} {compressed:6} / {raw:6}   ({count} pages crawled)")


@pytest.fixture(scope="module")
def demo_app(migrated):
    """The app on the Hautes-Alpes demo, seeded once for every account (the crawl only reads, but
    for logins); its relay ids by code. Emptied afterwards, as `app` does."""
    app = make_test_app(migrated)
    app.test_client_class = IsolatedClient
    with app.app_context():
        assert seed_demo(), "the test database should be empty before the demo is seeded"
        ids = dict(db.session.execute(select(Relay.code, Relay.id)).all())
        assert sorted(ids) == sorted(code for code, *_ in DEMO_RELAYS)
        yield app, ids
        db.session.remove()
        empty_all_tables()
        db.engine.dispose()


@pytest.fixture
def app(demo_app):
    return demo_app[0]


@pytest.fixture
def demo(demo_app):
    return demo_app[1]


@pytest.mark.parametrize(("email", "role", "relay_code"),
                         [(email, role, code) for email, _, role, code in DEMO_USERS],
                         ids=[email.split("@")[0] for email, *_ in DEMO_USERS])
def test_every_reachable_page_is_within_budget_and_scope(app, client, demo, report, email, role, relay_code):
    response = client.post("/login", data={"email": email, "password": DEMO_PASSWORD})
    assert response.status_code == 303, f"login of {email} answered {response.status_code}"

    pages = crawl(client, app)

    html_pages = [p for p in pages.values() if p["compressed"] is not None]
    assert html_pages, f"{email}: no HTML page reached after login"
    biggest = max(html_pages, key=lambda p: p["compressed"])
    report[email] = (biggest["url"], biggest["compressed"], biggest["raw"], len(pages))

    user = db.session.scalar(select(User).filter_by(email=email))
    all_relays = db.session.execute(select(Relay.id, Relay.name, Relay.territory_id)).all()
    visited_relays = {int(m.group(1)) for url in pages if (m := RELAY_URL.match(urlsplit(url).path))}

    if role in RELAY_ROLES:
        own = demo[relay_code]
        assert user.relay_id == own
        others = [r for r in all_relays if r.id != own]
        other_names = [r.name for r in others]
        for url, page in pages.items():
            m = RELAY_URL.match(urlsplit(url).path)
            foreign = m is not None and int(m.group(1)) != own
            assert not foreign, (
                f"{email} ({role}, relay {relay_code}) reached {url} (status {page['status']}, "
                f"linked from {page['referrer']}): a page of another relay"
            )
            for shown in page["h1"] + [page["title"]]:
                leaked = [name for name in other_names if name in shown]
                assert not leaked, f"{email} ({role}, relay {relay_code}): {url} shows {leaked} in {shown!r}"
        if role == Role.MANAGER:
            assert own in visited_relays, f"{email}: the crawl never reached their own relay /relays/{own}"

        # Direct probes: another relay's pages must not open, whatever the links say.
        for relay in others:
            for url in (f"/relays/{relay.id}", f"/relays/{relay.id}/edit"):
                response = get(client, url)
                allowed = {404} if (role == Role.MANAGER and not url.endswith("/edit")) else {403, 404}
                assert response.status_code in allowed, (
                    f"{email} ({role}, relay {relay_code}) got {response.status_code} for {url} "
                    f"({relay.name}); expected {' or '.join(map(str, sorted(allowed)))}"
                )
                assert relay.name not in response.text, f"{email}: {url} shows {relay.name!r}"
        other_accounts = db.session.scalars(
            select(User).where((User.relay_id != own) | User.relay_id.is_(None))).all()
        for account in other_accounts:
            url = f"/users/{account.id}/edit"
            response = get(client, url)
            allowed = {404} if role == Role.MANAGER else {403, 404}
            assert response.status_code in allowed, (
                f"{email} ({role}, relay {relay_code}) got {response.status_code} for {url} "
                f"({account.email}, outside their relay); expected {' or '.join(map(str, sorted(allowed)))}"
            )
            assert account.email not in response.text, f"{email}: {url} shows {account.email!r}"
    else:
        if role == Role.COORDINATOR:
            in_charge = {r.id for r in all_relays if r.territory_id == user.territory_id}
            assert len(in_charge) == len(DEMO_RELAYS), "the demo coordinator should cover every demo relay"
        else:
            in_charge = {r.id for r in all_relays}
        names = {r.id: r.name for r in all_relays}
        missed = sorted(in_charge - visited_relays)
        assert not missed, (
            f"{email} ({role}) never reached the pages of {[names[i] for i in missed]} "
            f"(ids {missed}) by following links"
        )
        outside = sorted(visited_relays - in_charge)
        assert not outside, f"{email} ({role}) reached relays outside their territory: {outside}"
        for relay_id in in_charge:
            page = pages[f"/relays/{relay_id}"]
            assert page["status"] == 200, f"{email}: /relays/{relay_id} answered {page['status']}"
            assert any(names[relay_id] in h for h in page["h1"]), (
                f"{email}: /relays/{relay_id} does not show {names[relay_id]!r} in its <h1> ({page['h1']})"
            )
