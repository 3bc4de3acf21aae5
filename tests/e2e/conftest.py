"""Real-browser tests: the portal served by waitress on its own database, driven by Debian's
Chromium through Playwright, with CSRF on, errors watched and axe-core accessibility checks.

Fixtures: `live_server` (session: .url, .app), `browser` (session), `page` (JavaScript on),
`page_nojs` (JavaScript off), `axe_check` (a callable: `axe_check(page)`).
"""
import os
import re
import threading
import traceback
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import pytest

from tests.conftest import fresh_database_url, make_test_app

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
ARTIFACTS = ROOT / "test-results" / "e2e"  # screenshot + HTML of a failed test's pages (git-ignored)
VIEWPORT = {"width": 1024, "height": 768}  # the smallest screen the portal must serve well
TIMEOUT_MS = 10_000

# A console error that only reports a 4xx status (an expected 422, a missing favicon) is not a bug;
# a 5xx is.
CLIENT_ERROR_MESSAGE = re.compile(r"^Failed to load resource: the server responded with a status of 4\d\d\b")

_NO_JS_CONTEXTS: "weakref.WeakSet" = weakref.WeakSet()
_PAGE_PROBLEMS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_SERVER_ERRORS: list[str] = []  # exceptions raised by the live server's views, with traceback
PROBLEMS = pytest.StashKey[list]()
REPORTS = pytest.StashKey[dict]()


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _unavailable(reason: str):
    """Skip on a developer machine; in CI (CI=true) a missing browser is an error."""
    if _in_ci():
        pytest.fail(f"{reason} (CI=true: the e2e layer must run in CI)", pytrace=False)
    pytest.skip(reason)


# --- marking and reporting ---------------------------------------------------------------

@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items):
    """Every test under tests/e2e is an e2e test (before -m selects or deselects)."""
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(REPORTS, {})[report.when] = report
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After the test body, fail it if one of its pages raised a JavaScript error, hit the CSP,
    logged an unexpected console error, or if the server raised an exception meanwhile."""
    server_errors_before = len(_SERVER_ERRORS)
    result = yield
    watched = item.stash.get(PROBLEMS, [])
    for problems in watched:
        problems.flush()
    messages = [message for problems in watched for message in problems.fatal()]
    messages += [f"server exception: {e}" for e in _SERVER_ERRORS[server_errors_before:]]
    if messages:
        pytest.fail("Errors in the browser or the live server:\n" + "\n".join(messages), pytrace=False)
    return result


# --- database and live server ------------------------------------------------------------

@pytest.fixture(scope="session")
def e2e_database_url(tmp_path_factory):
    """The e2e run's own database (the unit tests empty theirs after every test)."""
    with fresh_database_url(tmp_path_factory.mktemp("e2e-db"), "e2e") as url:
        yield url


class LiveServer(NamedTuple):
    url: str  # http://127.0.0.1:<port>, no trailing slash
    app: object  # the Flask app it serves (for url_for in a test_request_context)


@pytest.fixture(scope="session")
def live_server(e2e_database_url):
    """The portal, migrated and seeded with the demo, served by waitress in a daemon thread."""
    import waitress
    from flask import got_request_exception
    from flask_migrate import upgrade

    from portal.demo import seed_demo
    from portal.extensions import db
    from portal.pdf import render_pdf

    app = make_test_app(e2e_database_url, WTF_CSRF_ENABLED=True)
    with app.app_context():
        upgrade()
        assert seed_demo(), "the e2e database should be empty before the demo is seeded"
        db.session.remove()
    with app.app_context():  # WeasyPrint's first render loads it and the fonts: not in a page's timeout
        render_pdf("pdf/notice.html", relay={"name": "Relais", "address": ""}, retention_months=24,
                   notice_version="1")
    got_request_exception.connect(_record_server_error, app, weak=False)
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="e2e-waitress", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.effective_port}", app)
    finally:
        _stop_server(server, thread)
        with app.app_context():
            db.engine.dispose()


def _record_server_error(sender, exception, **extra) -> None:
    _SERVER_ERRORS.append("".join(traceback.format_exception(exception)).rstrip())


def _stop_server(server, thread) -> None:
    """Close every socket from the server's own loop thread (no fd closed under its select),
    then let the loop end and stop the worker threads."""
    from waitress import wasyncore

    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(timeout=10)
    server.task_dispatcher.shutdown()


# --- browser and pages -------------------------------------------------------------------

@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium (never a downloaded one), started once for the whole run."""
    if not Path(CHROMIUM).exists():
        _unavailable(f"{CHROMIUM} not found: install Debian's chromium package to run the e2e tests")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright Python package is not installed (requirements-dev.txt)")
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
    except Exception:
        playwright.stop()
        raise
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@dataclass
class PageProblems:
    """What went wrong in one page, as the browser reported it."""
    page: object
    page_errors: list = field(default_factory=list)
    csp_violations: list = field(default_factory=list)
    console_errors: list = field(default_factory=list)  # other console.error messages

    def on_console(self, message) -> None:
        if message.type != "error":
            return
        where = message.location.get("url") or self.page.url
        text = f"{message.text} [{where}]"
        if "Content Security Policy" in message.text:
            self.csp_violations.append(text)
        else:
            self.console_errors.append(text)

    def on_page_error(self, error) -> None:
        self.page_errors.append(f"{error.name}: {error.message}\n{error.stack or ''}".rstrip())

    def forgive_inline_script_violation(self) -> None:
        """Drop the CSP report that axe_check's own refused <script> tag caused."""
        self.flush()
        for i in range(len(self.csp_violations) - 1, -1, -1):
            if "inline script" in self.csp_violations[i]:
                del self.csp_violations[i]
                return

    def flush(self) -> None:
        """One round trip, so that events the browser already sent are dispatched."""
        try:
            self.page.title()
        except Exception:  # a closed page: nothing more will arrive
            pass

    def fatal(self) -> list[str]:
        unexpected = [m for m in self.console_errors if not CLIENT_ERROR_MESSAGE.match(m)]
        return ([f"pageerror: {m}" for m in self.page_errors]
                + [f"CSP violation: {m}" for m in self.csp_violations]
                + [f"console.error: {m}" for m in unexpected])


def _new_page(browser, live_server, request, javascript: bool):
    context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT, locale="fr-FR",
                                  java_script_enabled=javascript)
    context.set_default_timeout(TIMEOUT_MS)
    if not javascript:
        _NO_JS_CONTEXTS.add(context)
    page = context.new_page()
    problems = PageProblems(page)
    page.on("console", problems.on_console)
    page.on("pageerror", problems.on_page_error)
    _PAGE_PROBLEMS[page] = problems
    request.node.stash.setdefault(PROBLEMS, []).append(problems)
    return context, page


def _save_artifacts(request, page, suffix: str) -> None:
    report = request.node.stash.get(REPORTS, {}).get("call")
    if report is None or not report.failed or page.is_closed():
        return
    folder = ARTIFACTS / re.sub(r"[^\w.-]+", "_", request.node.nodeid)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        page.screenshot(path=str(folder / f"{suffix}.png"), full_page=True)
        (folder / f"{suffix}.html").write_text(page.content(), encoding="utf-8")
    except Exception:  # the artifacts are a courtesy: never hide the real failure
        pass


@pytest.fixture
def page(browser, live_server, request):
    """A page with JavaScript (htmx) on, in a fresh context (no cookies), at 1024×768."""
    context, page = _new_page(browser, live_server, request, javascript=True)
    yield page
    _save_artifacts(request, page, "page")
    context.close()


@pytest.fixture
def page_nojs(browser, live_server, request):
    """A page with JavaScript off: the plain HTML path every feature must keep working."""
    context, page = _new_page(browser, live_server, request, javascript=False)
    yield page
    _save_artifacts(request, page, "page_nojs")
    context.close()


def log_in(page, live_server, email: str) -> None:
    """Log in with a demo account through the login form; lands on the home page."""
    from playwright.sync_api import expect

    from portal.demo import DEMO_PASSWORD

    page.goto("/login")
    page.get_by_label("Adresse e-mail", exact=True).fill(email)
    page.get_by_label("Mot de passe", exact=True).fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    expect(page).to_have_url(f"{live_server.url}/")


# --- accessibility -----------------------------------------------------------------------

_AXE_RUN = """async (tags) => {
  const results = await axe.run(document, {runOnly: {type: "tag", values: tags}});
  return results.violations.map(v => ({
    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
    targets: v.nodes.map(n => n.target.join(" ")),
  }));
}"""


def _axe_source() -> str:
    if not AXE_JS.exists():
        _unavailable(f"{AXE_JS.relative_to(ROOT)} not found: run `npm ci` (or `make vendor`)")
    return AXE_JS.read_text(encoding="utf-8")


def _inject_axe(page, source: str) -> None:
    """A script tag; when the page's Content-Security-Policy refuses it, evaluate the source
    through DevTools instead (not subject to the page's CSP)."""
    if page.evaluate("typeof window.axe") != "undefined":
        return
    try:
        page.add_script_tag(content=source)
    except Exception as error:  # "Executing inline script violates the following Content Security Policy…"
        if "Content Security Policy" not in str(error):
            raise
        problems = _PAGE_PROBLEMS.get(page)
        if problems is not None:
            problems.forgive_inline_script_violation()  # our tag, not the page's fault
    if page.evaluate("typeof window.axe") == "undefined":
        page.evaluate(source)


def _format_violations(violations: list[dict], url: str) -> str:
    lines = [f"{len(violations)} accessibility violation(s) (axe-core, {'/'.join(AXE_TAGS)}) on {url}:"]
    for v in violations:
        targets = ", ".join(v["targets"][:3]) + (f" (+{len(v['targets']) - 3} more)" if len(v["targets"]) > 3 else "")
        lines.append(f"  - {v['id']} [{v['impact']}] {v['help']}\n      at {targets}\n      {v['helpUrl']}")
    return "\n".join(lines)


def _run_axe(page, source: str) -> list[dict]:
    _inject_axe(page, source)
    return page.evaluate(_AXE_RUN, AXE_TAGS)


def _run_axe_on_snapshot(page, source: str, twins) -> list[dict]:
    """axe needs JavaScript (timers, promises): for a page opened with JavaScript off, the same
    HTML is served again, with the same URL and stylesheets but no script, to a JS-enabled page."""
    html, url = page.content(), page.url
    twin = twins().new_page()
    try:
        twin.set_viewport_size(page.viewport_size or VIEWPORT)

        def serve(route):
            req = route.request
            if req.is_navigation_request() and req.frame == twin.main_frame:
                route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html)
            elif req.resource_type == "script":
                route.abort()  # what the page looked like without JavaScript
            else:
                route.continue_()

        twin.route("**/*", serve)
        twin.goto(url)
        return _run_axe(twin, source)
    finally:
        twin.close()


@pytest.fixture(scope="session")
def axe_check(browser):
    """`axe_check(page)`: no WCAG 2.1 A/AA violation on the page as it is now.

    Works on `page` (run in place) and on `page_nojs` (run on a script-less twin of its HTML,
    in one JS-enabled context kept for the run)."""
    source = _axe_source()
    twin_context = []

    def twins():
        if not twin_context:
            context = browser.new_context(viewport=VIEWPORT, locale="fr-FR")
            context.set_default_timeout(TIMEOUT_MS)
            twin_context.append(context)
        return twin_context[0]

    def check(page) -> None:
        if page.context in _NO_JS_CONTEXTS:
            violations = _run_axe_on_snapshot(page, source, twins)
        else:
            violations = _run_axe(page, source)
        if violations:
            raise AssertionError(_format_violations(violations, page.url))

    yield check
    for context in twin_context:
        context.close()
