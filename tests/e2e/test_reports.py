"""The coordinator's journey through the reports in a real browser: change the period, open a
relay, download the figures as CSV and the funders' PDF — figures only, no one's name; every page
axe-core clean."""
import csv
import io
import re

from playwright.sync_api import expect

from portal.demo import DEMO_RELAYS
from tests.e2e.conftest import log_in

COORDINATOR = "coordination@relais05.example"
RELAY = "Secours Populaire Gap"
DEMO_PEOPLE = ("Diallo", "Aïssatou", "Шевченко")  # names the demo holds at Secours Populaire Gap


def test_coordinator_changes_the_period_opens_a_relay_and_downloads_the_exports(page, live_server, axe_check):
    log_in(page, live_server, COORDINATOR)
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Rapports").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Rapports d'activité")
    table = page.get_by_role("table", name="Activité par structure")
    for _, name, *_ in DEMO_RELAYS:
        expect(table.get_by_role("rowheader", name=name, exact=True)).to_be_visible()
    axe_check(page)

    page.get_by_label("Période").select_option("year")
    page.get_by_role("button", name="Afficher").click()
    expect(page).to_have_url(re.compile(r"/reports/\?period=year"))  # a URL to share
    expect(page.get_by_text(re.compile(r"^Du 1 janvier \d{4} au"))).to_be_visible()
    body = page.locator("main").inner_text()
    assert not any(name in body for name in DEMO_PEOPLE)

    with page.expect_download() as download:
        page.get_by_role("link", name="les chiffres par structure et par mois (CSV)").click()
    with open(download.value.path(), "rb") as file:
        raw = file.read()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM a French Excel needs to read UTF-8
    rows = list(csv.DictReader(io.StringIO(raw[3:].decode("utf-8")), delimiter=";"))
    assert rows and {row["Structure"] for row in rows} >= {RELAY}
    assert all(re.fullmatch(r"-?\d+,\d\d", row["Montant net (€)"]) for row in rows)

    pdf = page.request.get(page.get_by_role("link", name="le rapport d'activité (PDF)").get_attribute("href"))
    assert pdf.headers["content-type"] == "application/pdf"
    from pypdf import PdfReader
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert "Hautes-Alpes" in text and RELAY in text
    assert not any(name in text for name in DEMO_PEOPLE)

    table = page.get_by_role("table", name="Activité par structure")
    table.get_by_role("link", name=RELAY, exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(RELAY)
    expect(page).to_have_url(re.compile(r"period=year"))  # the period follows
    expect(page.get_by_role("img", name=re.compile("."))).to_be_visible()  # the 12-month chart
    expect(page.get_by_text("intact")).to_be_visible()
    axe_check(page)
