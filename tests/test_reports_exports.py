"""Report exports: the figures per relay and month as a CSV file for a French Excel, the sales
journal for accounting (codes, never names), the activity report for funders (PDF and HTML twin),
and who may download what — from a small month and a half made through the real operations, on
SQLite and PostgreSQL."""
import csv
import io
import re
import uuid
from datetime import date, timedelta
from types import SimpleNamespace

import pytest

from portal import clock
from portal.reports import exports
from portal.reports.documents import activity_report_context
from portal.reports.exports import euros, hours, months
from portal.reports.forms import Period
from portal.sales.operations import LineRequest, PaymentRequest, record_sale, void_sale
from portal.security import Role
from portal.templating import local_date
from portal.workshops.operations import enrol, record_attendance
from tests.test_cash import utc
from tests.test_certificates import pdf_text
from tests.test_receipt import assert_plain

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)

BOM = b"\xef\xbb\xbf"
# Seven people of our relay; none of these names may leave the portal in an export.
NAMES = ("Zéphyrine", "Anatole", "Philomène", "Barnabé", "Eulalie", "Théodule", "Clothilde")
SURNAME = "Quenouille"
EXPORTS = ("/reports/figures.csv", "/reports/journal.csv", "/reports/report")


@pytest.fixture
def world(make_territory, make_relay, make_user, make_beneficiary, make_product, make_parcours,
          make_workshop_session):
    """Our relay (Hautes-Alpes) from the 10th of last month to today: 7 people onboarded today;
    last month a SIM sold; this month a SIM for cash, a free SIM, a SIM by card voided, and a
    90-minute session with 3 people present. Another territory's relay sells a SIM."""
    here, there = make_territory("Hautes-Alpes"), make_territory("Isère")
    ours = make_relay(here, name="Secours Populaire Gap", code="SPFGAP")
    theirs = make_relay(there, name="CADA Grenoble", code="CADAGRE")
    manager, volunteer = make_user(Role.MANAGER, relay=ours), make_user(Role.VOLUNTEER, relay=ours)
    today = clock.today()
    start = (today.replace(day=1) - timedelta(days=1)).replace(day=10)
    people = [make_beneficiary(ours, name, SURNAME, eligible_on=today) for name in NAMES]
    sim = make_product([ours, theirs], stock=20, name="Carte SIM", price=500, reference=1500)
    free = make_product([ours], stock=20, name="SIM d'urgence", category="free_sim", price=0, reference=1000)

    def sell(user, person, product, payment, at=None):
        return record_sale(user, uuid.uuid4().hex, [LineRequest(product.id)], [payment], person.id, at=at)

    sales = [sell(volunteer, people[0], sim, PaymentRequest("cash", 500), at=utc(start + timedelta(days=5), 10)),
             sell(volunteer, people[1], sim, PaymentRequest("cash", 500)),
             sell(volunteer, people[2], free, PaymentRequest("free", 0)),
             sell(volunteer, people[3], sim, PaymentRequest("card", 500))]
    sales.append(void_sale(manager, sales[3], "Erreur de produit", uuid.uuid4().hex))
    parcours = make_parcours(ours)
    session = make_workshop_session(parcours, day=today, duration_minutes=90)
    for person in people[4:]:
        enrol(parcours, person.id, ours.id, volunteer)
        record_attendance(session, person, "present", volunteer)
    stranger = make_beneficiary(theirs, "Wilhelmine", "Étrangère", eligible_on=today)
    their_sale = sell(make_user(Role.VOLUNTEER, relay=theirs), stranger, sim, PaymentRequest("card", 500))
    users = {"manager": manager, "volunteer": volunteer, "coordinator": make_user(Role.COORDINATOR, territory=here),
             "their coordinator": make_user(Role.COORDINATOR, territory=there), "admin": make_user(Role.ADMIN)}
    return SimpleNamespace(ours=ours, theirs=theirs, here=here, people=people, sales=sales, their_sale=their_sale,
                           users=users, period=Period(start, today),
                           query=f"period=custom&start={start.isoformat()}&end={today.isoformat()}")


def read_csv(response) -> list[dict]:
    """The rows of a downloaded CSV file as Excel would split them, keyed by the header."""
    assert response.data.startswith(BOM)
    assert b"\r\n" in response.data and b"\n" not in response.data.replace(b"\r\n", b"")
    header, *rows = csv.reader(io.StringIO(response.data[len(BOM):].decode("utf-8"), newline=""), delimiter=";")
    return [dict(zip(header, row, strict=True)) for row in rows]


def test_the_figures_csv_has_a_row_per_relay_and_month_for_a_french_excel(world, client, login):
    login(world.users["coordinator"])
    response = client.get(f"/reports/figures.csv?{world.query}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    period = world.period
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="activite-{period.start.isoformat()}-{period.end.isoformat()}.csv"')
    last_month, this_month = read_csv(response)  # one relay (not theirs), two months
    assert list(last_month)[:11] == ["Structure", "Code", "Mois", "Du", "Au", "Nouvelles personnes",
                                     "Personnes servies", "Ventes", "Montant net (€)", "SIM gratuites", "Appareils"]
    assert list(last_month)[-6:] == ["Annulations", "Écarts de caisse", "Séances", "Participant·es", "Heures",
                                     "Attestations"]
    month_end = period.end.replace(day=1) - timedelta(days=1)
    assert {k: last_month[k] for k in ("Structure", "Code", "Mois", "Du", "Au")} == {
        "Structure": "Secours Populaire Gap", "Code": "SPFGAP", "Mois": period.start.strftime("%m/%Y"),
        "Du": period.start.strftime("%d/%m/%Y"), "Au": month_end.strftime("%d/%m/%Y")}  # cut to the period
    assert (this_month["Du"], this_month["Au"]) == (period.end.replace(day=1).strftime("%d/%m/%Y"),
                                                    period.end.strftime("%d/%m/%Y"))
    assert (last_month["Nouvelles personnes"], last_month["Ventes"], last_month["Montant net (€)"]) == ("0", "< 5",
                                                                                                        "5,00")
    assert {k: this_month[k] for k in (
        "Nouvelles personnes", "Personnes servies", "Ventes", "Montant net (€)", "SIM gratuites", "Appareils",
        "Carte SIM (unités)", "Espèces (€)", "Carte bancaire (€)", "Gratuit (€)", "Annulations", "Écarts de caisse",
        "Séances", "Participant·es", "Heures", "Attestations")} == {
        "Nouvelles personnes": "7", "Personnes servies": "6", "Ventes": "< 5", "Montant net (€)": "5,00",
        "SIM gratuites": "< 5", "Appareils": "0", "Carte SIM (unités)": "< 5", "Espèces (€)": "5,00",
        "Carte bancaire (€)": "0,00", "Gratuit (€)": "0,00", "Annulations": "< 5", "Écarts de caisse": "0",
        "Séances": "1", "Participant·es": "< 5", "Heures": "4,50", "Attestations": "0"}


def test_the_journal_lists_every_receipt_with_codes_and_never_names(world, client, login):
    login(world.users["manager"])
    response = client.get(f"/reports/journal.csv?{world.query}")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith('attachment; filename="journal-ventes-')
    rows = read_csv(response)
    assert [row["N° de reçu"] for row in rows] == [sale.number for sale in world.sales]
    first, cash, free, card, void = rows
    assert (first["Date"], first["Heure"]) == ((world.period.start + timedelta(days=5)).strftime("%d/%m/%Y"),
                                               "10:00")  # Paris time
    assert all(re.fullmatch(r"\d\d/\d\d/\d{4}", row["Date"]) and re.fullmatch(r"\d\d:\d\d", row["Heure"])
               for row in rows)
    assert (cash["Montant (€)"], cash["Moyen(s) de paiement"]) == ("5,00", "Espèces 5,00 €")
    assert (free["Montant (€)"], free["Moyen(s) de paiement"]) == ("0,00", "Gratuit 0,00 €")
    assert {k: void[k] for k in ("Montant (€)", "Moyen(s) de paiement", "Annule le reçu", "Motif d'annulation")} == {
        "Montant (€)": "-5,00", "Moyen(s) de paiement": "Carte bancaire -5,00 €",
        "Annule le reçu": card["N° de reçu"], "Motif d'annulation": "Erreur de produit"}
    assert card["Annule le reçu"] == card["Motif d'annulation"] == ""
    assert [row["Code personne"] for row in rows] == [world.people[i].code for i in (0, 1, 2, 3, 3)]
    text = response.data.decode("utf-8")
    assert not any(name in text for name in (*NAMES, SURNAME))


def test_the_journal_is_sent_in_pieces_and_none_is_lost(world, client, login, monkeypatch):
    """Read two sales at a time and sent 100 characters at a time, the journal is the same file."""
    login(world.users["manager"])
    whole = client.get(f"/reports/journal.csv?{world.query}").data
    monkeypatch.setattr(exports, "JOURNAL_BATCH", 2)
    monkeypatch.setattr(exports, "CHUNK", 100)
    response = client.get(f"/reports/journal.csv?{world.query}", buffered=False)
    assert response.is_streamed
    pieces = list(response.response)
    response.close()
    assert len(pieces) > 3 and b"".join(pieces) == whole and whole.startswith(BOM)


@pytest.mark.parametrize("who, relays", [
    ("manager", {"SPFGAP"}),
    ("coordinator", {"SPFGAP"}),
    ("their coordinator", {"CADAGRE"}),
    ("admin", {"SPFGAP", "CADAGRE"}),
])
def test_each_reader_exports_the_relays_they_may_see(world, client, login, who, relays):
    login(world.users[who])
    figures = read_csv(client.get(f"/reports/figures.csv?{world.query}"))
    assert {row["Code"] for row in figures} == relays
    journal = read_csv(client.get(f"/reports/journal.csv?{world.query}"))
    assert {row["N° de reçu"].split("-")[0] for row in journal} == relays
    twin = client.get(f"/reports/report?{world.query}").text
    assert ("Secours Populaire Gap" in twin) == ("SPFGAP" in relays)
    assert ("CADA Grenoble" in twin) == ("CADAGRE" in relays)


@pytest.mark.parametrize("url", [*EXPORTS, "/reports/report.pdf"])
@pytest.mark.parametrize("who, status", [("anonymous", 303), ("volunteer", 403)])
def test_anonymous_people_log_in_first_and_volunteers_have_no_export(client, login, make_user, url, who, status):
    if who != "anonymous":
        login(make_user(Role.VOLUNTEER))
    response = client.get(f"{url}?period=year")
    assert response.status_code == status
    if who == "anonymous":
        assert "/login" in response.headers["Location"]


@pytest.mark.parametrize("url", [*EXPORTS, "/reports/report.pdf"])
def test_a_wrong_period_shows_the_dashboard_with_the_message(client, login, make_user, url):
    login(make_user(Role.COORDINATOR))
    response = client.get(f"{url}?period=custom&start=2026-10-01")
    assert response.status_code == 422 and response.mimetype == "text/html"
    assert "Choisissez les deux dates." in response.text


def test_the_dashboard_links_to_the_exports_of_its_period(client, login, make_user):
    login(make_user(Role.COORDINATOR))
    page = client.get("/reports/?period=last_month").text
    for url in ("/reports/figures.csv", "/reports/journal.csv", "/reports/report.pdf"):
        assert f'href="{url}?period=last_month"' in page


def test_the_report_context_is_plain_masked_figures(world, app):
    period = world.period
    context = activity_report_context("Hautes-Alpes", [world.ours], period, period.previous("custom"))
    assert_plain(context)
    headlines = {h["label"]: (h["value"], h["before"]) for h in context["headlines"]}
    assert headlines["nouvelles personnes accueillies"] == ("7", "0")
    assert headlines["personnes servies"] == ("7", "0")  # 4 bought, 3 came to the session
    assert headlines["cartes SIM"] == ("< 5", "0")  # 1 last month, 1 kept this month, 1 free
    assert headlines["heures de formation suivies"] == ("4,5", "0")
    assert context["total"] is None and [row["name"] for row in context["relays"]] == ["Secours Populaire Gap"]
    sims, devices, hours_panel = context["chart"]["panels"]
    this_month = sims["bars"][-1]
    assert this_month["hollow"] and this_month["label"] == "< 5"  # drawn as tall as 5, dashed
    assert not any(bar["hollow"] for bar in devices["bars"] + hours_panel["bars"])
    assert hours_panel["bars"][-1]["label"] == "4,5"
    assert len(sims["bars"]) == 6  # a short period is shown within the half-year before it


def test_the_activity_report_pdf_and_its_html_twin(world, client, login):
    login(world.users["coordinator"])
    period = world.period
    twin = client.get(f"/reports/report?{world.query}")
    assert twin.status_code == 200 and twin.headers["Cache-Control"] == "no-store"
    assert "<svg" in twin.text and "data:" not in twin.text
    response = client.get(f"/reports/report.pdf?{world.query}")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == (
        f'inline; filename="rapport-activite-{period.start.isoformat()}-{period.end.isoformat()}.pdf"')
    text = pdf_text(response.data)
    assert "Rapport d'activité Hautes-Alpes" in text
    assert f"Du {local_date(period.start)} au {local_date(period.end)}" in text
    for value, label in (("7", "nouvelles personnes accueillies"), ("7", "personnes servies"),
                         ("< 5", "cartes SIM (dont < 5 gratuites)"), ("0", "appareils reconditionnés"),
                         ("1", "séances d'atelier"), ("< 5", "participant·es aux ateliers"),
                         ("4,5", "heures de formation suivies"), ("0", "attestations remises")):
        # the figure and its label are blocks of their own: no space between them in the text
        assert re.search(rf"{re.escape(value)} ?{re.escape(label)} période précédente : 0", text), label
    assert "Secours Populaire Gap" in text and "CADA Grenoble" not in text
    assert not any(name in text for name in (*NAMES, SURNAME))


@pytest.mark.parametrize("cents, shown", [(0, "0,00"), (5, "0,05"), (1250, "12,50"), (-500, "-5,00"),
                                          (123456789, "1234567,89")])
def test_amounts_have_a_decimal_comma_and_no_separator(cents, shown):
    assert euros(cents) == shown


def test_hours_have_a_decimal_comma():
    assert (hours(0), hours(90), hours(100)) == ("0,00", "1,50", "1,67")


def test_a_period_is_cut_into_its_months():
    assert months(Period(date(2026, 11, 10), date(2027, 1, 5))) == [
        Period(date(2026, 11, 10), date(2026, 11, 30)), Period(date(2026, 12, 1), date(2026, 12, 31)),
        Period(date(2027, 1, 1), date(2027, 1, 5))]
    assert months(Period(date(2026, 2, 3), date(2026, 2, 3))) == [Period(date(2026, 2, 3), date(2026, 2, 3))]
