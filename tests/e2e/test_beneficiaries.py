"""The onboarding journey in a real browser, with htmx and without JavaScript.

A volunteer searches the relay's people, starts a new record, is warned about a near-duplicate
of a demo person, onboards a person whose name is in Cyrillic, lands on the profile and prints
the information notice; every page is axe-core clean.

The live server's database is shared by the whole e2e session: each test onboards a different
person (name and phone) that the demo does not hold, so that the two tests pass in any order.
The demo already holds "Олена Шевченко" at Secours Populaire Gap, hence other Ukrainian names.
"""
import io
import re
from datetime import date, datetime
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from portal.beneficiaries.queries import fold
from tests.e2e.conftest import log_in

VOLUNTEER = "benevole.spf-gap@relais05.example"
RELAY = "Secours Populaire Gap"
DUPLICATE_WARNING = "Cette personne a peut-être déjà une fiche"
PHONE_ERROR = "Numéro de téléphone non valide"
ASYLUM = "Demandeur·se d'asile ou réfugié·e"
NOTICE_LINK = "Imprimer la notice d'information"
CODE = re.compile(r"B-[2-9A-HJKMNP-Z]{4,5}")
PROFILE_PATH = re.compile(r"/beneficiaries/(\d+)$")
MARKER = "same document"


def portal_today() -> date:
    """The portal's day (Europe/Paris) on the test run's clock."""
    return datetime.now(ZoneInfo("Europe/Paris")).date()


def set_marker(page) -> None:
    page.evaluate("(m) => { window.e2eNoReload = m; }", MARKER)


def assert_not_reloaded(page) -> None:
    assert page.evaluate("() => window.e2eNoReload") == MARKER, "the page was reloaded"


def open_people(page, live_server, axe_check) -> None:
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Personnes").click()
    expect(page).to_have_url(f"{live_server.url}/beneficiaries/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Personnes accompagnées")
    axe_check(page)


def assert_search_results(page, query: str) -> None:
    results = page.locator("#results")
    expect(results.get_by_role("status")).to_contain_text(f"pour « {query} »")
    names = results.locator("tbody tr td:first-child")
    expect(names.first).to_be_visible()
    texts = names.all_inner_texts()
    assert len(texts) >= 2 and all(query in t.casefold() for t in texts), texts


def fill_identity(page, first: str, last: str, phone: str | None = None, typing: bool = False) -> None:
    fields = [("Prénom", first), ("Nom ou pseudonyme", last)]
    if phone is not None:
        fields.append(("Téléphone (facultatif)", phone))
    for label, value in fields:
        box = page.get_by_label(label, exact=True)
        if typing:  # key by key, as a volunteer does: every key is an `input` event
            box.clear()
            box.press_sequentially(value)
        else:
            box.fill(value)


def duplicate_check(page, first: str, last: str, phone: str = ""):
    """Expect the debounced duplicate check (htmx GET of the onboarding page, names and phone in
    the query string) for exactly these values: the last one sent while typing them."""
    def is_check(response) -> bool:
        url = urlsplit(response.url)
        if response.request.method != "GET" or url.path != "/beneficiaries/new":
            return False
        sent = parse_qs(url.query, keep_blank_values=True)
        return (sent.get("first_name"), sent.get("last_name"), sent.get("phone", [""])) == ([first], [last], [phone])
    return page.expect_response(is_check)


def assert_near_duplicates(warning, seeded: set[str]) -> None:
    """The warning links to the demo's near-duplicates (spelt as the volunteers typed them), and
    only to people with those names whatever the case and accents, each with a profile link."""
    links = warning.get_by_role("link")
    expect(links.first).to_be_visible()
    names = links.all_inner_texts()
    assert seeded <= set(names), names
    assert {fold(n) for n in names} == {fold(n) for n in seeded}, names
    for link in links.all():
        assert PROFILE_PATH.search(link.get_attribute("href")), link.get_attribute("href")


def assert_fragment(response) -> None:
    """An htmx partial request answered with a fragment, not a whole page."""
    assert response.request.headers.get("hx-request-type") == "partial", response.request.headers
    assert "<body" not in response.text(), "a full page came back instead of a fragment"


def fill_the_rest(page) -> None:
    """A language, the eligibility (its date defaults to today) and the notice given."""
    page.get_by_role("group", name="Langues parlées").get_by_label("ukrainien", exact=True).check()
    page.get_by_label("Situation ouvrant droit aux tarifs solidaires").select_option(label=ASYLUM)
    expect(page.get_by_label("Date de la vérification")).to_have_value(portal_today().isoformat())
    page.get_by_label("La personne a été informée", exact=False).check()


def submit_new(page):
    """Click "Créer la fiche"; the response to the POST."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/beneficiaries/new")) as posted:
        page.get_by_role("button", name="Créer la fiche").click()
    return posted.value


def assert_profile(page, first: str, last: str, phone: str) -> str:
    """The new person's profile with the creation flash; their code."""
    expect(page).to_have_url(PROFILE_PATH)
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"{first} {last}")
    code = CODE.search(heading.inner_text())
    assert code, heading.inner_text()
    expect(page.locator("#flashes")).to_have_text(f"Fiche créée pour {first} {last} — code {code.group()}.")
    expect(page.locator("main")).to_contain_text(phone)
    expect(page.locator("main")).to_contain_text("ukrainien")
    expect(page.locator("main")).to_contain_text(ASYLUM)
    expect(page.locator(".badge")).to_have_text(re.compile(r"^Valide jusqu'au \d\d/\d\d/\d{4}$"))
    return code.group()


def print_notice(page, axe_check) -> None:
    """The notice link of the list page gives the relay's notice as a PDF; its HTML twin is clean."""
    from pypdf import PdfReader

    link = page.locator("main").get_by_role("link", name=NOTICE_LINK)
    href = link.get_attribute("href")
    assert href == "/beneficiaries/notice.pdf", href
    response = page.request.get(href)  # the browser context's cookies: the volunteer's session
    assert response.status == 200, response.status
    assert response.headers["content-type"] == "application/pdf", response.headers["content-type"]
    assert response.headers.get("cache-control") == "no-store"
    body = response.body()
    assert body.startswith(b"%PDF-"), body[:20]
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(body)).pages)
    assert RELAY in text, text[:500]
    assert "Notice d’information sur vos données" in text

    page.goto("/beneficiaries/notice")
    expect(page.get_by_role("heading", level=1)).to_have_text("Notice d’information sur vos données")
    expect(page.locator("body")).to_contain_text(RELAY)
    axe_check(page)


def assert_not_in_demo(page, first: str, last: str, phone: str) -> None:
    """The person to onboard is new: no near-duplicate in the relay (name or phone)."""
    response = page.request.get("/beneficiaries/new",
                                params={"first_name": first, "last_name": last, "phone": phone})
    assert response.status == 200
    assert DUPLICATE_WARNING not in response.text(), f"{first} {last} / {phone} already has a record"


# --- with JavaScript (htmx) ---------------------------------------------------------------

NEW_JS = ("Богдана", "Литвиненко", "06 12 34 56 78")


def test_onboarding_journey_with_htmx(page, axe_check, live_server):
    first, last, phone = NEW_JS
    log_in(page, live_server, VOLUNTEER)
    assert_not_in_demo(page, first, last, phone)
    open_people(page, live_server, axe_check)

    # Search: the results update in place and the URL records the query.
    set_marker(page)
    with page.expect_response(lambda r: "/beneficiaries/?q=diallo" in r.url) as searched:
        page.get_by_label("Rechercher", exact=True).fill("diallo")
    assert_fragment(searched.value)
    assert_search_results(page, "diallo")
    expect(page).to_have_url(f"{live_server.url}/beneficiaries/?q=diallo")
    assert_not_reloaded(page)

    page.locator("main").get_by_role("link", name="Nouvelle personne").click()
    expect(page).to_have_url(f"{live_server.url}/beneficiaries/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("Nouvelle personne")

    # A near-duplicate: the warning comes while typing, before anything is submitted.
    posts = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    set_marker(page)
    with duplicate_check(page, "Aissatou", "bah ") as checked:
        fill_identity(page, "Aissatou", "bah ", typing=True)
    assert checked.value.status == 200, checked.value.status
    assert_fragment(checked.value)
    warning = page.locator("#duplicates")
    expect(warning).to_contain_text(DUPLICATE_WARNING)
    assert_near_duplicates(warning, {"Aïssatou Bah", "Aissatou BAH"})
    expect(warning.get_by_label("C'est bien une autre personne", exact=False)).not_to_be_checked()
    assert posts == [], f"something was submitted: {posts}"
    assert_not_reloaded(page)
    expect(page).to_have_url(f"{live_server.url}/beneficiaries/new")
    axe_check(page)

    # The person to onboard is someone else: the warning goes away as the name changes.
    with duplicate_check(page, first, last, "12"):
        fill_identity(page, first, last, "12", typing=True)
    expect(warning).to_be_empty()
    fill_the_rest(page)

    # An invalid phone fails in place, next to the field, keeping what was typed.
    response = submit_new(page)
    assert response.status == 422, response.status
    assert_fragment(response)
    phone_box = page.get_by_label("Téléphone (facultatif)", exact=True)
    expect(phone_box).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#phone-error")).to_contain_text(PHONE_ERROR)
    expect(phone_box).to_have_attribute("aria-describedby", "phone-error")
    expect(page.get_by_label("Prénom", exact=True)).to_have_value(first)
    expect(page.get_by_label("Nom ou pseudonyme", exact=True)).to_have_value(last)
    expect(page.get_by_label("ukrainien", exact=True)).to_be_checked()
    expect(page.get_by_label("La personne a été informée", exact=False)).to_be_checked()
    expect(page.locator("form").get_by_role("alert")).to_be_visible()
    assert_not_reloaded(page)
    axe_check(page)

    # The swapped-in form is enhanced too: the right phone creates the record through htmx.
    expect(page.locator("form[hx-post]")).to_have_attribute("data-htmx-powered", "true")
    with duplicate_check(page, first, last, phone):  # let it settle: nobody has this phone either
        phone_box.fill(phone)
    expect(warning).to_be_empty()
    response = submit_new(page)
    assert response.status == 204, response.status
    assert PROFILE_PATH.search(response.headers.get("hx-redirect", "")), response.headers
    # HX-Redirect loads the profile as a whole page, whose flash area carries the message
    # (htmx.py sends no toast along with a redirect).
    code = assert_profile(page, first, last, phone)
    assert page.evaluate("() => window.e2eNoReload") is None, "HX-Redirect did not load a new page"
    expect(page.locator("#toasts")).to_be_empty()
    axe_check(page)

    # The new person is at the top of the list (most recent activity first).
    open_people(page, live_server, axe_check)
    first_row = page.locator("#results tbody tr").first
    expect(first_row).to_contain_text(f"{first} {last}")
    expect(first_row).to_contain_text(code)
    print_notice(page, axe_check)


# --- without JavaScript -------------------------------------------------------------------

NEW_NOJS = ("Мирослава", "Гнатюк", "07 81 23 45 67")


def test_onboarding_journey_without_javascript(page_nojs, axe_check, live_server):
    page = page_nojs
    first, last, phone = NEW_NOJS
    log_in(page, live_server, VOLUNTEER)
    assert_not_in_demo(page, first, last, phone)
    open_people(page, live_server, axe_check)

    # Search: a plain GET form.
    page.get_by_label("Rechercher", exact=True).fill("diallo")
    with page.expect_navigation():
        page.get_by_role("button", name="Rechercher").click()
    expect(page).to_have_url(f"{live_server.url}/beneficiaries/?q=diallo")
    assert_search_results(page, "diallo")

    page.locator("main").get_by_role("link", name="Nouvelle personne").click()
    expect(page).to_have_url(f"{live_server.url}/beneficiaries/new")
    expect(page.get_by_label("Date de la vérification")).to_have_value(portal_today().isoformat())

    # A near-duplicate: nothing happens while typing; the warning comes with the submitted form.
    fill_identity(page, "Mamadou", "diallo")
    expect(page.locator("#duplicates")).to_be_empty()
    response = submit_new(page)
    assert response.status == 422, response.status
    warning = page.locator("#duplicates")
    expect(warning).to_contain_text(DUPLICATE_WARNING)
    assert_near_duplicates(warning, {"Mamadou Diallo", "Mamadou DIALLO"})
    expect(page.get_by_label("Prénom", exact=True)).to_have_value("Mamadou")
    axe_check(page)

    # Someone else after all: a new person whose name is in Cyrillic.
    fill_identity(page, first, last, phone)
    fill_the_rest(page)
    response = submit_new(page)
    assert response.status == 303, response.status
    assert PROFILE_PATH.search(response.headers["location"]), response.headers["location"]
    assert "hx-request" not in response.request.headers
    code = assert_profile(page, first, last, phone)
    axe_check(page)

    open_people(page, live_server, axe_check)
    expect(page.locator("#results tbody tr").first).to_contain_text(code)
    print_notice(page, axe_check)
