"""Low bandwidth in real Chromium: the volunteer's pages and actions on EDGE and on 3G.

The portal is served by waitress on the demo data (tests/e2e/conftest.py: live_server), driven by
Debian's Chromium through Playwright; the DevTools protocol throttles the page
(`Network.emulateNetworkConditions`) and counts what crosses the network (`Network.*` events).
Measured per page: the first visit (a fresh browser context: empty cache, no open connection,
already logged in) and the repeat visit (the same context, cache kept); per action: recording a
sale from the sale screen to the sale page, and one attendance mark. Reported in
docs/BENCHMARKS.md (section `network`) and docs/benchmarks.json; nothing here asserts a timing.
"""
import os
import re
import time
from dataclasses import dataclass, field
from typing import NamedTuple

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from tests.bench.conftest import machine_description, now_utc
from tests.e2e.conftest import TIMEOUT_MS, VIEWPORT, browser, e2e_database_url, live_server, log_in  # noqa: F401
from tests.e2e.test_sales import VOLUNTEER, in_app, pick_person

RUNS = {"edge": 3, "3g": 1}  # each visit and action, a new context each time; the report gives the median
FIRST_VISIT_KB, FIRST_VISIT_REQUESTS, FIRST_VISIT_S = 25, 4, 2.5  # on EDGE (DESIGN.md, Budgets)
PAGE_KB, FRAGMENT_KB = 14, 4  # compressed
THROTTLED_TIMEOUT_MS = 120_000


class Profile(NamedTuple):
    key: str
    label: str
    down_kbit: int
    up_kbit: int
    latency_ms: int

    def conditions(self) -> dict:
        """Network.emulateNetworkConditions parameters (throughput in bytes/s, kbit = 1,000 bit)."""
        return {"offline": False, "latency": self.latency_ms,
                "downloadThroughput": self.down_kbit * 1000 / 8, "uploadThroughput": self.up_kbit * 1000 / 8}


PROFILES = [Profile("edge", "EDGE", 240, 200, 840), Profile("3g", "3G (DevTools)", 400, 400, 2000)]


@dataclass
class Transfer:
    url: str
    kind: str = ""
    status: int = 0
    encoding: str = ""
    header_bytes: int = 0
    bytes: int = 0  # headers and body as received, compressed
    cached: bool = False


@dataclass
class NetworkLog:
    """What the page asked for since the last reset(), from the DevTools protocol's events."""
    transfers: dict = field(default_factory=dict)

    def attach(self, cdp) -> None:
        cdp.on("Network.requestWillBeSent", self._sent)
        cdp.on("Network.requestServedFromCache", self._from_cache)
        cdp.on("Network.responseReceived", self._response)
        cdp.on("Network.loadingFinished", self._finished)

    def reset(self) -> None:
        self.transfers = {}

    def _sent(self, event) -> None:
        if event["request"]["url"].startswith("http"):
            self.transfers[event["requestId"]] = Transfer(event["request"]["url"], event.get("type", ""))

    def _from_cache(self, event) -> None:
        if event["requestId"] in self.transfers:
            self.transfers[event["requestId"]].cached = True

    def _response(self, event) -> None:
        transfer = self.transfers.get(event["requestId"])
        if transfer is None:
            return
        response = event["response"]
        headers = {name.lower(): value for name, value in response.get("headers", {}).items()}
        transfer.status, transfer.encoding = response["status"], headers.get("content-encoding", "")
        transfer.header_bytes = int(response.get("encodedDataLength") or 0)
        transfer.cached = transfer.cached or response.get("fromDiskCache") or response.get("fromPrefetchCache", False)

    def _finished(self, event) -> None:
        if event["requestId"] in self.transfers:
            self.transfers[event["requestId"]].bytes = int(event["encodedDataLength"])

    @property
    def network(self) -> list[Transfer]:
        """The requests that went to the server (not answered by the browser's cache)."""
        return [t for t in self.transfers.values() if not t.cached]

    @property
    def total_bytes(self) -> int:
        return sum(t.bytes for t in self.network)


@dataclass
class Visit:
    seconds: float
    requests: int
    bytes: int
    html_bytes: int
    encoding: str
    parts: str


class Browsing:
    """Fresh throttled contexts on the live server, logged in as a demo account or not."""

    def __init__(self, browser, live_server):
        self.browser, self.live_server, self.states = browser, live_server, {}

    def state(self, email: str | None):
        if email and email not in self.states:
            context = self.browser.new_context(base_url=self.live_server.url, viewport=VIEWPORT, locale="fr-FR")
            context.set_default_timeout(TIMEOUT_MS)
            log_in(context.new_page(), self.live_server, email)
            self.states[email] = context.storage_state()
            context.close()
        return self.states.get(email)

    def open(self, profile: Profile, email: str | None):
        """(context, page, log): a new context (empty cache, no connection) throttled to the profile."""
        context = self.browser.new_context(base_url=self.live_server.url, viewport=VIEWPORT, locale="fr-FR",
                                           storage_state=self.state(email))
        context.set_default_timeout(THROTTLED_TIMEOUT_MS)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        log = NetworkLog()
        log.attach(cdp)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", profile.conditions())
        return context, page, log


def _visit(page, log: NetworkLog, path: str) -> Visit:
    log.reset()
    response = page.goto(path, wait_until="load")
    assert response is not None and response.status == 200, (path, response and response.status)
    seconds = page.evaluate("() => { const n = performance.getEntriesByType('navigation')[0];"
                            " return (n.loadEventEnd || performance.now()) / 1000; }")
    page.evaluate("() => 0")  # one more round trip: the last Network events are dispatched
    document = next(t for t in log.network if t.kind == "Document")
    parts = ", ".join(f"{'HTML' if t.kind == 'Document' else t.url.split('?')[0].rsplit('/', 1)[-1]} "
                      f"{t.bytes / 1024:.1f}" for t in log.network)
    return Visit(seconds, len(log.network), log.total_bytes, document.bytes, document.encoding, parts)


def _median_visit(visits: list[Visit]) -> Visit:
    """The run with the median time (its bytes and requests with it)."""
    return sorted(visits, key=lambda v: v.seconds)[len(visits) // 2]


@pytest.fixture(scope="module")
def demo(live_server):
    """The pages' paths, on the demo data of the live server."""
    from portal.beneficiaries.queries import fold
    from portal.extensions import db
    from portal.relays.models import Relay
    from portal import clock
    from portal.workshops.models import Attendance, WorkshopSession

    person = pick_person(live_server)

    def work():
        relay_id = db.session.scalar(select(Relay.id).where(Relay.code == "SPFGAP"))
        session_id = db.session.scalar(
            select(WorkshopSession.id).where(WorkshopSession.relay_id == relay_id,
                                             WorkshopSession.day < clock.today())
            .where(select(Attendance.id).where(Attendance.session_id == WorkshopSession.id).exists())
            .order_by(WorkshopSession.day.desc()).limit(1))
        return session_id

    session_id = in_app(live_server, work)
    assert session_id, "the demo has past workshop sessions with attendance at SPF Gap"
    query = fold(person["name"].split()[-1])[:3]
    return {
        "person": person, "session_id": session_id,
        "pages": [  # (key, label, account, path)
            ("login", "Login page", None, "/login"),
            ("sale_screen", "Sale screen (a person chosen)", VOLUNTEER, f"/sales/new?beneficiary={person['id']}"),
            ("search", f"Beneficiary search (`{query}`)", VOLUNTEER, f"/beneficiaries/?q={query}"),
            ("attendance", "Attendance sheet of a past session", VOLUNTEER, f"/workshops/sessions/{session_id}"),
        ],
    }


def test_network(browser, live_server, demo, bench_report):
    started, load_before = time.perf_counter(), os.getloadavg()
    browsing = Browsing(browser, live_server)
    pages, actions = [], []
    for profile in PROFILES:
        for key, label, account, path in demo["pages"]:
            first, repeat = [], []
            for _ in range(RUNS[profile.key]):
                context, page, log = browsing.open(profile, account)
                try:
                    first.append(_visit(page, log, path))
                    repeat.append(_visit(page, log, path))
                finally:
                    context.close()
            pages.append({"profile": profile, "key": key, "label": label, "path": path,
                          "first": _median_visit(first), "repeat": _median_visit(repeat)})
        actions.append(_record_sale(browsing, profile, demo))
        actions.append(_toggle_attendance(browsing, profile, demo))
    seconds, load_after = time.perf_counter() - started, os.getloadavg()

    body = _section(pages, actions, seconds, load_before, load_after)
    bench_report.write("network", body)
    _record_figures(bench_report, pages, actions)
    print(f"\n{body}\n")


def _record_sale(browsing: Browsing, profile: Profile, demo) -> dict:
    """From the sale screen (loaded, cache warm): a USB charger from the list, "Ajouter",
    "Enregistrer la vente", until the sale page has loaded."""
    timings = []
    for _ in range(RUNS[profile.key]):
        context, page, log = browsing.open(profile, VOLUNTEER)
        try:
            page.goto(f"/sales/new?beneficiary={demo['person']['id']}")
            charger = page.get_by_label("ou produit", exact=True).locator("option", has_text="Chargeur USB")
            value = charger.get_attribute("value")
            log.reset()
            t0 = time.perf_counter()
            page.get_by_label("ou produit", exact=True).select_option(value)
            page.get_by_role("button", name="Ajouter", exact=True).click()
            expect(page.locator("#sale").get_by_role("region", name="Panier").locator("tbody tr")).to_have_count(1)
            t1 = time.perf_counter()
            page.get_by_role("button", name="Enregistrer la vente").click()
            page.wait_for_url(re.compile(r"/sales/\d+$"), wait_until="load")
            t2 = time.perf_counter()
            expect(page.locator("#flashes")).to_contain_text("enregistrée")
            page.evaluate("() => 0")
            timings.append({"total": t2 - t0, "add": t1 - t0, "record": t2 - t1,
                            "requests": len(log.network), "bytes": log.total_bytes})
        finally:
            context.close()
    middle = sorted(timings, key=lambda t: t["total"])[len(timings) // 2]
    return {"profile": profile, "key": "record_sale", "label": "Record a sale: add a product, record, sale page",
            **middle, "detail": f"add {middle['add']:.1f} s + record → sale page {middle['record']:.1f} s"}


def _toggle_attendance(browsing: Browsing, profile: Profile, demo) -> dict:
    """On a session's sheet (loaded, cache warm): one click on a mark, until it shows pressed."""
    timings = []
    for _ in range(RUNS[profile.key]):
        context, page, log = browsing.open(profile, VOLUNTEER)
        try:
            page.goto(f"/workshops/sessions/{demo['session_id']}")
            first_id = page.locator("#attendance button[id$='-present']").first.get_attribute("id")
            person = first_id.removesuffix("-present")
            pressed = page.locator(f"#{person}-present").get_attribute("aria-pressed") == "true"
            target = f"#{person}-{'absent' if pressed else 'present'}"
            log.reset()
            t0 = time.perf_counter()
            page.locator(target).click()
            expect(page.locator(target)).to_have_attribute("aria-pressed", "true")
            seconds = time.perf_counter() - t0
            page.evaluate("() => 0")
            fragment = next(t for t in log.network if "/attendance/" in t.url)
            timings.append({"total": seconds, "requests": len(log.network), "bytes": log.total_bytes,
                            "fragment": fragment.bytes})
        finally:
            context.close()
    middle = sorted(timings, key=lambda t: t["total"])[len(timings) // 2]
    return {"profile": profile, "key": "attendance_toggle", "label": "Toggle one attendance mark", **middle,
            "detail": f"fragment {middle['fragment'] / 1024:.1f} KB"}


def _record_figures(bench_report, pages, actions) -> None:
    for row in pages:
        if row["profile"].key != "edge":
            continue  # the budgets are set on EDGE
        first, repeat, name = row["first"], row["repeat"], f"network.edge.{row['key']}"
        bench_report.record(f"{name}.first_visit_kb", first.bytes / 1024, FIRST_VISIT_KB, "KB", note=first.parts)
        bench_report.record(f"{name}.first_visit_requests", first.requests, FIRST_VISIT_REQUESTS, "requests")
        bench_report.record(f"{name}.first_visit_s", first.seconds, FIRST_VISIT_S, "s", note="load event")
        bench_report.record(f"{name}.repeat_visit_requests", repeat.requests, 1, "requests", comparison="==",
                            note=repeat.parts)
        bench_report.record(f"{name}.html_gzip_kb", first.html_bytes / 1024, PAGE_KB, "KB",
                            note=f"headers + body, {first.encoding or 'identity'}")
    for action in actions:
        if action["profile"].key != "edge":
            continue
        bench_report.record(f"network.edge.{action['key']}_s", action["total"], None, "s", note=action["detail"])
        if action["key"] == "attendance_toggle":
            bench_report.record("network.attendance_toggle.fragment_kb", action["fragment"] / 1024, FRAGMENT_KB,
                                "KB", note="headers + body, compressed")


def _section(pages, actions, seconds, load_before, load_after) -> str:
    def mark(ok: bool) -> str:
        return "pass" if ok else "**miss**"

    lines = [
        "## Low bandwidth in Chromium: EDGE and 3G",
        "",
        "*Written by `tests/bench/test_network_bench.py`.*",
        "",
        f"**Budgets** (DESIGN.md): on EDGE a first visit weighs **≤ {FIRST_VISIT_KB} KB in ≤ {FIRST_VISIT_REQUESTS}"
        f" requests** and loads in **≤ {FIRST_VISIT_S} s**; a repeat visit is **the HTML only, one request**;"
        f" a page's HTML is **≤ {PAGE_KB} KB compressed**, a fragment ≤ {FRAGMENT_KB} KB. Recording a sale on"
        " EDGE: \"a few seconds\", measured and reported. The 3G figures are for information.",
        "",
        "**Method:** the demo (`seed_demo`) served by waitress (4 threads) on SQLite, as in the e2e tests;"
        " Debian's Chromium, headless, 1024×768, driven by Playwright. Each run opens a new browser context"
        " (empty cache, no open connection) already logged in (the login's cookie, not its cache), and the"
        " DevTools protocol throttles it with `Network.emulateNetworkConditions`: "
        + "; ".join(f"{p.label} {p.down_kbit} kbit/s down, {p.up_kbit} kbit/s up, {p.latency_ms:,} ms latency"
                    for p in PROFILES)
        + ". Chromium adds the latency to each request and paces the bytes, so TCP slow start is not"
        " modelled. First visit: `page.goto` in the new context, timed from the navigation's start to the"
        " end of the `load` event (Navigation Timing); repeat visit: the same URL again in the same context."
        " Requests and bytes come from the `Network.*` events: requests not answered by the browser's cache,"
        " bytes as received (headers and compressed bodies; the encoding is the one Flask-Compress and Chromium"
        " agree on, shown next to the HTML). Actions start on the"
        " loaded page (cache warm, as at the counter) and end when the result shows: the sale page loaded"
        " after \"Enregistrer la vente\", or the mark pressed. Each EDGE figure is the median of"
        f" {RUNS['edge']} runs (a new context each), each 3G figure one run.",
        "",
        f"- **Date:** {now_utc()}. The run took {seconds:.0f} s.",
        f"- **Machine:** {machine_description()}. Load average (1 min) was {load_before[0]:.2f} before"
        f" and {load_after[0]:.2f} after.",
        "- **Command:** `make bench`, or `.venv/bin/python -m pytest tests/bench/test_network_bench.py -p"
        " no:cacheprovider -s`.",
        "",
        "| Profile | Page | First visit | Requests | KB | Repeat visit | Requests | KB | HTML KB | Budgets (EDGE) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in pages:
        first, repeat, profile = row["first"], row["repeat"], row["profile"]
        if profile.key == "edge":
            checks = [first.bytes <= FIRST_VISIT_KB * 1024, first.requests <= FIRST_VISIT_REQUESTS,
                      first.seconds <= FIRST_VISIT_S, repeat.requests == 1, first.html_bytes <= PAGE_KB * 1024]
            names = ["size", "requests", "time", "repeat", "HTML"]
            verdict = mark(all(checks)) + ("" if all(checks) else " (" + ", ".join(
                n for n, ok in zip(names, checks) if not ok) + ")")
        else:
            verdict = "—"
        lines.append(f"| {profile.label} | {row['label']} | {first.seconds:.2f} s | {first.requests} "
                     f"| {first.bytes / 1024:.1f} | {repeat.seconds:.2f} s | {repeat.requests} "
                     f"| {repeat.bytes / 1024:.1f} | {first.html_bytes / 1024:.1f} ({first.encoding or 'identity'}) "
                     f"| {verdict} |")
    edge = PROFILES[0]
    lines += ["", "What the first visits download on EDGE (KB as received), and the floor the emulation sets:"
              f" two requests one after the other (the HTML, then the CSS and scripts together), each"
              f" {edge.latency_ms:,} ms of latency, plus every byte at {edge.down_kbit} kbit/s:", ""]
    for row in pages:
        if row["profile"].key == "edge":
            floor = 2 * edge.latency_ms / 1000 + row["first"].bytes * 8 / (edge.down_kbit * 1000)
            lines.append(f"- {row['label']}: {row['first'].parts} (floor {floor:.2f} s); repeat: {row['repeat'].parts}.")
    lines += ["", "| Profile | Action | Time | Requests | KB | Detail |", "|---|---|---:|---:|---:|---|"]
    for action in actions:
        lines.append(f"| {action['profile'].label} | {action['label']} | {action['total']:.2f} s "
                     f"| {action['requests']} | {action['bytes'] / 1024:.1f} | {action['detail']} |")
    return "\n".join(lines)
