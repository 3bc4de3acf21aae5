"""A relay's report page: its figures over a period against the period before (small counts
masked), its twelve-month chart, stock, voids, closing differences, days left open, ledger
status and silence — never a person's name; and who may read it. On SQLite and PostgreSQL."""
import html
import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import update

from portal import clock
from portal.extensions import db
from portal.ledger.operations import verify_relay
from portal.sales.models import Sale
from portal.sales.operations import PaymentRequest, void_sale
from portal.security import Role
from portal.templating import local_date, money
from portal.workshops.operations import record_attendance
from tests.test_cash import close_till, sell, utc

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)


def norm(fragment: str) -> str:
    """The text of an HTML fragment, tags dropped, entities decoded, spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def fact(page: str, label: str) -> str:
    """The figure (now, then the previous period's) after `label` in the page's list of facts."""
    return norm(re.search(rf"<dt>{re.escape(label)}</dt><dd>(.*?)</dd>", page, re.S).group(1))


def row(page: str, label: str) -> str:
    """The text of the table row headed by `label`."""
    rows = re.findall(r'<tr><th scope="row">(.*?)</th>(.*?)</tr>', page, re.S)
    return {norm(head): norm(cells) for head, cells in rows}[label]


def state(page: str, label: str) -> str:
    """The text of the page's state line starting with `label`."""
    return norm(re.search(rf"<li>{re.escape(label)}(.*?)</li>", page, re.S).group(1))


@pytest.fixture
def shop(make_user, make_product, make_beneficiary):
    """A relay's manager and volunteer, three eligible people, a SIM (5 €, 10 in stock) and free
    emergency SIMs (3 in stock, threshold 5: low once one is given)."""
    manager = make_user(Role.MANAGER, display_name="Karim Benali")
    relay = manager.relay
    volunteer = make_user(Role.VOLUNTEER, relay=relay)
    people = [make_beneficiary(relay, first, last, eligible_on=clock.today())
              for first, last in (("Amina", "Diallo"), ("Yonas", "Tesfay"), ("Олена", "Шевченко"))]
    sim = make_product([relay], stock=10, name="SIM prépayée", price=500, reference=1500)
    free = make_product([relay], stock=3, name="SIM d'urgence", category="free_sim", price=0, reference=1000)
    return relay, manager, volunteer, people, sim, free


@pytest.fixture
def month_of_activity(shop, make_parcours, make_workshop_session):
    """Three days ago (the previous period): 3 SIMs, closed exactly. Two days ago: 2 SIMs in cash
    and a free SIM, closed 2 € short with a reason, and a 2-hour workshop with two people present.
    Yesterday: a SIM by card, not closed (its session was opened two days ago). Today: the void of the 2 SIMs."""
    relay, manager, volunteer, (amina, yonas, olena), sim, free = shop
    today = clock.today()
    d0, d1, d2 = today - timedelta(days=3), today - timedelta(days=2), today - timedelta(days=1)
    sell(volunteer, amina, sim, [PaymentRequest("cash", 1500)], 3, at=utc(d0, 10))
    close_till(manager, {"cash": 1500}, at=utc(d0, 19))
    two_sims = sell(volunteer, yonas, sim, [PaymentRequest("cash", 1000)], 2, at=utc(d1, 10))
    sell(volunteer, olena, free, [], at=utc(d1, 11))
    close_till(manager, {"cash": 800}, "Erreur de rendu de monnaie", at=utc(d1, 19))
    by_card = sell(volunteer, amina, sim, [PaymentRequest("card", 500)], at=utc(d2, 10))
    void = void_sale(manager, two_sims, "Mauvais produit", uuid.uuid4().hex)
    session = make_workshop_session(make_parcours(relay), day=d1, duration_minutes=120, facilitator=volunteer)
    for person in (amina, yonas):
        record_attendance(session, person, "present", volunteer)
    return {"days": (d0, d1, d2), "two_sims": two_sims, "by_card": by_card, "void": void}


@pytest.fixture
def page(client, login, shop, month_of_activity):
    """The page as the relay's manager sees it, from two days ago to today."""
    relay, manager, *_ = shop
    login(manager)
    start = month_of_activity["days"][1]

    def get():
        response = client.get(f"/reports/relays/{relay.id}?period=custom&start={start}&end={clock.today()}")
        assert response.status_code == 200
        return response.text
    return get


def test_the_figures_of_the_period_against_the_period_before(page):
    text = page()
    assert fact(text, "Montant net") == norm(f"{money(1000 + 500 - 1000)} {money(1500)}")
    assert fact(text, "Personnes servies") == "< 5 < 5"  # 3 people now (masked), Amina before
    assert fact(text, "Ventes") == "< 5 < 5"
    assert fact(text, "SIM gratuites") == "< 5 0"
    assert fact(text, "Annulations") == "< 5 (33,3 % des ventes) 0 (0 %)"  # 1 void out of 3 sales; 0 of 1
    assert fact(text, "Écarts de caisse") == norm(f"1 sur 1 clôtures, {money(200)} 0 sur 1")
    assert fact(text, "Séances d'atelier") == "1 0"  # sessions and hours are never masked
    assert fact(text, "Participant·es") == "< 5 0"
    assert fact(text, "Heures de présence") == "4 h 0 h"
    assert row(text, "Carte SIM") == norm(f"< 5 < 5 {money(500)} {money(1500)}")  # 2 + 1 − 2 units now
    assert row(text, "Carte SIM d'urgence gratuite") == norm(f"< 5 0 {money(0)} {money(0)}")
    assert row(text, "Carte bancaire") == norm(f"< 5 0 {money(500)} {money(0)}")
    assert row(text, "Espèces") == norm(f"0 < 5 {money(0)} {money(1500)}")  # the void gave the cash back


@pytest.mark.parametrize("app_config", [{"REPORT_SMALL_COUNT": 3}], indirect=True)
def test_counts_at_the_threshold_are_shown(page):
    assert fact(page(), "Personnes servies") == "3 < 3"


def test_voids_and_closing_differences_show_receipts_and_reasons_never_people(page, shop, month_of_activity):
    _, _, _, people, _, _ = shop
    text = page()
    void, two_sims = month_of_activity["void"], month_of_activity["two_sims"]
    assert norm(f"{void.number} {two_sims.number}") in norm(text)
    assert norm(f"{money(-1000)} Mauvais produit") in norm(text)
    d1 = month_of_activity["days"][1]
    assert row_of_day(text, d1) == norm(f"Espèces : {money(-200)} Erreur de rendu de monnaie")
    for person in people:
        assert not {person.first_name, person.last_name, person.code} & set(norm(text).split())


def row_of_day(page: str, day) -> str:
    return norm(re.search(rf"<tr><td>{day:%d/%m/%Y}</td>(.*?)</tr>", page, re.S).group(1))


def test_states_days_not_closed_low_stock_and_the_ledger(page, month_of_activity):
    d0, d1, d2 = month_of_activity["days"]
    text = page()
    # The session opened at the last closing, two days ago, is still open.
    assert state(text, "Caisse ouverte depuis plus d'un jour") == f": oui depuis le {d1:%d/%m/%Y} à 19:00"
    assert state(text, "Stock bas") == ": 1 SIM d'urgence"
    assert "Silencieuse" not in text
    assert state(text, "Registre des ventes") == ": intact"
    db.session.execute(update(Sale).where(Sale.id == month_of_activity["by_card"].id).values(total_cents=1))
    db.session.commit()
    broken = state(page(), "Registre des ventes")
    assert broken == f": ROMPU {verify_relay(month_of_activity['by_card'].relay_id)}"
    assert "modifiée après son enregistrement" in broken


def test_twelve_months_as_a_small_accessible_chart(page):
    text = page()
    svg = re.search(r"<svg .*?</svg>", text, re.S).group(0)
    assert 'role="img"' in svg and len(svg.encode()) < 2000
    label = norm(re.search(r'aria-label="([^"]*)"', svg).group(1))
    assert norm(f"{money(1500 + 1000 + 500 - 1000)} au total") in label and "4 h au total" in label
    assert re.search(r'class="bars" d="M\d+ 84v-\d+h18v\d+z', svg)
    assert svg.count("<text ") == 12
    assert "<summary>Valeurs du graphique</summary>" in text


@pytest.mark.parametrize("days, silent", [(14, False), (15, True)])
def test_a_relay_without_activity_for_too_long_is_flagged(client, login, make_user, make_beneficiary, days, silent):
    manager = make_user(Role.MANAGER)
    make_beneficiary(manager.relay, created_at=utc(clock.today() - timedelta(days=days), 10))
    login(manager)
    text = client.get(f"/reports/relays/{manager.relay_id}").text
    assert ("Silencieuse" in text) is silent
    assert state(text, "Dernière activité").startswith(norm(f": {local_date(clock.today() - timedelta(days=days))}"))


def test_a_relay_that_never_did_anything_is_flagged(client, login, make_user):
    manager = make_user(Role.MANAGER)
    login(manager)
    text = client.get(f"/reports/relays/{manager.relay_id}").text
    assert state(text, "Dernière activité") == ": jamais Silencieuse aucune activité depuis plus de 14 jours"
    assert "Aucune vente." in text and "Aucune annulation." in text and 'role="img"' in text


def test_a_wrong_period_fails_in_place(client, login, make_user):
    manager = make_user(Role.MANAGER)
    login(manager)
    response = client.get(f"/reports/relays/{manager.relay_id}?period=custom&start=2026-03-01&end=2026-02-01")
    assert response.status_code == 422 and "La date de fin précède la date de début." in response.text


@pytest.mark.parametrize("who, status", [
    ("manager", 200), ("manager of another relay", 404), ("volunteer", 403),
    ("coordinator", 200), ("coordinator of another territory", 404), ("admin", 200),
])
def test_who_may_read_a_relays_page(client, login, make_user, make_relay, who, status):
    relay = make_relay()
    reader = {
        "manager": lambda: make_user(Role.MANAGER, relay=relay),
        "manager of another relay": lambda: make_user(Role.MANAGER, relay=make_relay(territory=relay.territory)),
        "volunteer": lambda: make_user(Role.VOLUNTEER, relay=relay),
        "coordinator": lambda: make_user(Role.COORDINATOR, territory=relay.territory),
        "coordinator of another territory": lambda: make_user(Role.COORDINATOR),
        "admin": lambda: make_user(Role.ADMIN),
    }[who]()
    login(reader)
    response = client.get(f"/reports/relays/{relay.id}")
    assert response.status_code == status
    assert (f"<h1>{relay.name} " in response.text) is (status == 200)  # the 403 page names the own relay
