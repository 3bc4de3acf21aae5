"""A volunteer's day: the list of the relay's receipts, today's by default, with the day's totals,
filtered by day, person, product or receipt number (a GET form; htmx swaps the results only).

Days are set explicitly: a sale's time is given (naive UTC, as stored) around local midnight, or
taken relative to the portal's own today; no test depends on the calendar date it runs on."""
import gzip
import re
import uuid
from datetime import date, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest
import time_machine
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from portal import clock
from portal.beneficiaries.operations import anonymise
from portal.cash.operations import close_session, open_session, open_session_of, session_summary
from portal.catalogue.models import ProductOffer
from portal.clock import day_bounds
from portal.extensions import db
from portal.forms import HIDDEN_CHARACTERS
from portal.sales.operations import LineRequest, PaymentRequest, record_sale, void_sale
from portal.sales.queries import SalesFilters, sales_totals
from portal.security import Role
from portal.stock.operations import move_stock
from tests.test_hostile_input import ENGLISH, UNESCAPED, hostile_values

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
NBSP = "\u00a0"
PAGE_BUDGET, FRAGMENT_BUDGET = 14 * 1024, 4 * 1024


def paris(day: date, hour: int, minute: int) -> datetime:
    """A local (Europe/Paris) time of `day`, as stored: naive UTC."""
    start, _ = day_bounds(day)
    return start + timedelta(hours=hour, minutes=minute)


@pytest.fixture
def shop(make_relay, make_user, make_product, make_beneficiary):
    """A relay with a volunteer and a manager, two people, and a SIM (5 €), a recharge (10 €)
    and a free emergency SIM; none of them needs an eligibility check (not what is tested here)."""
    relay = make_relay(code="SPFGAP")
    volunteer = make_user(Role.VOLUNTEER, relay=relay)
    manager = make_user(Role.MANAGER, relay=relay)
    awa = make_beneficiary(relay, "Awa", "Traoré")
    olena = make_beneficiary(relay, "Олена", "Шевченко")
    products = {
        "sim": make_product([relay], stock=200, name="Carte SIM prépayée", price=500, eligibility_required=False),
        "recharge": make_product([relay], stock=200, name="Recharge 10 €", category="recharge", price=1000,
                                 reference=1000, eligibility_required=False),
        "free": make_product([relay], stock=200, name="SIM d'urgence", price=0, eligibility_required=False),
    }
    return relay, volunteer, manager, awa, olena, products


def sell(user, *lines, person=None, pay=None, at=None):
    """Record a sale of (product, quantity) lines, paid in cash unless `pay` says otherwise."""
    total = sum(product.price_cents * quantity for product, quantity in lines)
    payments = pay or ([PaymentRequest("cash", total)] if total else [])
    return record_sale(user, uuid.uuid4().hex, [LineRequest(product.id, quantity) for product, quantity in lines],
                       payments, person.id if person else None, at=at)


def squeeze(text: str) -> str:
    """Runs of spaces and line breaks as one space (no-break spaces kept: money has them)."""
    return re.sub(r"[ \t\r\n]+", " ", text).strip()


class TableCells(HTMLParser):
    """The text of each cell of each row of the table whose caption starts with `caption`."""

    def __init__(self, caption: str):
        super().__init__(convert_charrefs=True)
        self.caption, self.rows, self._in, self._text, self._caption = caption, [], False, None, None

    def handle_starttag(self, tag, attrs):
        if tag == "caption":
            self._caption = ""
        elif tag == "tr" and self._in:
            self.rows.append([])
        elif tag in ("td", "th") and self._in:
            self._text = ""

    def handle_endtag(self, tag):
        if tag == "caption":
            self._in, self._caption = self._caption.startswith(self.caption), None
        elif tag == "table":
            self._in = False
        elif tag in ("td", "th") and self._in and self._text is not None:
            self.rows[-1].append(squeeze(self._text))
            self._text = None

    def handle_data(self, data):
        if self._caption is not None:
            self._caption += data
        elif self._text is not None:
            self._text += data


def table(page: str, caption: str) -> list[list[str]]:
    parser = TableCells(caption)
    parser.feed(page)
    return parser.rows


def listed(page: str) -> list[str]:
    """The receipt numbers the list shows, in order."""
    return [row[0] for row in table(page, "Reçus")[1:]]


def totals(page: str) -> dict[str, str]:
    head, values = table(page, "Totaux")
    return dict(zip(head, values))


def close_till(manager):
    """Close the relay's open cash session with the amounts expected."""
    session = open_session_of(manager.relay_id)
    close_session(manager, session_summary(session)["expected"], {}, "")


def test_while_the_till_is_open_the_list_opens_on_its_session(client, login, shop):
    relay, volunteer, manager, awa, _, products = shop
    today_start, _ = day_bounds(clock.today())
    before = sell(volunteer, (products["sim"], 1), person=awa, at=today_start - timedelta(hours=2))
    close_till(manager)
    with time_machine.travel(today_start + timedelta(hours=1), tick=False):
        opened = open_session(manager, 0)  # a session opened at 01:00, the first of the day
    late = sell(volunteer, (products["sim"], 1), person=awa, at=today_start + timedelta(hours=3))
    now = sell(volunteer, (products["sim"], 1), person=awa)
    login(volunteer)
    page = squeeze(client.get("/sales/").text)
    assert listed(page) == [now.number, late.number] and before.number not in page
    assert f"La session de caisse ouverte le {clock.local_time(opened.opened_at):%d/%m à %H:%M} : 2 reçus." in page
    assert "Toute la journée" in page
    day = squeeze(client.get(f"/sales/?day={clock.today().isoformat()}").text)
    assert "Aujourd'hui : 2 reçus." in day and "La session en cours" in day


def test_the_list_opens_on_todays_receipts_with_their_totals(client, login, shop):
    relay, volunteer, manager, awa, olena, products = shop
    today_start, _ = day_bounds(clock.today())
    yesterday = sell(volunteer, (products["sim"], 1), person=awa, at=today_start - timedelta(minutes=1))
    midnight = sell(volunteer, (products["sim"], 1), person=awa, at=today_start)
    voided = sell(volunteer, (products["sim"], 1), person=awa)
    split = sell(volunteer, (products["recharge"], 1), (products["sim"], 1), person=olena,
                 pay=[PaymentRequest("card", 1000), PaymentRequest("cash", 500)])
    free = sell(volunteer, (products["free"], 2), person=olena)
    cheque = sell(volunteer, (products["sim"], 1), pay=[PaymentRequest("cheque", 500, reference="0001234")])
    void = void_sale(manager, voided, "Erreur de produit", uuid.uuid4().hex)
    close_till(manager)  # with no session open, the list opens on today
    login(volunteer)

    page = client.get("/sales/")

    assert page.status_code == 200
    assert listed(page.text) == [void.number, cheque.number, free.number, split.number, voided.number,
                                 midnight.number]
    assert yesterday.number not in page.text
    assert "Aujourd'hui : 6 reçus." in squeeze(page.text)
    assert totals(page.text) == {
        "Ventes": "5", "Annulations": "1", "Montant net": f"25,00{NBSP}€", "Espèces": f"10,00{NBSP}€",
        "Carte bancaire": f"10,00{NBSP}€", "Chèque": f"5,00{NBSP}€", "Prise en charge": f"0,00{NBSP}€", "Gratuit": "1 vente"}
    rows = {row[0]: row for row in table(page.text, "Reçus")[1:]}
    assert rows[midnight.number][1:3] == ["00:00", f"Awa Traoré {awa.code}"]
    assert rows[split.number][2:6] == [f"Олена Шевченко {olena.code}", "Recharge 10 €, Carte SIM prépayée",
                                       f"15,00{NBSP}€", f"Carte bancaire 10,00{NBSP}€, Espèces 5,00{NBSP}€"]
    assert rows[free.number][3:6] == ["SIM d'urgence ×2", f"0,00{NBSP}€", "Gratuit"]
    assert rows[cheque.number][2] == "—"
    assert rows[voided.number][6] == "annulée" and rows[void.number][6] == "annulation"
    assert rows[void.number][4] == f"-5,00{NBSP}€" and rows[midnight.number][6] == ""
    assert f'<a href="/sales/{voided.id}">{voided.number}</a>' in page.text


def test_a_day_runs_from_local_midnight_to_local_midnight(client, login, shop):
    """30 March 2025, the spring change to summer time: 23 hours, from 23:00 to 22:00 UTC."""
    relay, volunteer, _, awa, _, products = shop
    sim = products["sim"]
    before = sell(volunteer, (sim, 1), at=paris(date(2025, 3, 29), 23, 30))  # 22:30 UTC
    early = sell(volunteer, (sim, 1), at=paris(date(2025, 3, 30), 0, 30))  # 23:30 UTC, the day before
    late = sell(volunteer, (sim, 2), at=paris(date(2025, 3, 30), 23, 30) - timedelta(hours=1))  # summer time
    after = sell(volunteer, (sim, 1), at=paris(date(2025, 3, 31), 0, 30))  # 22:30 UTC, the day before
    assert early.created_at == datetime(2025, 3, 29, 23, 30) and late.created_at == datetime(2025, 3, 30, 21, 30)
    login(volunteer)

    page = client.get("/sales/?day=2025-03-30").text

    assert listed(page) == [late.number, early.number]
    assert [row[1] for row in table(page, "Reçus")[1:]] == ["23:30", "00:30"]
    assert "Le dimanche 30 mars 2025 : 2 reçus." in squeeze(page)
    assert totals(page)["Montant net"] == f"15,00{NBSP}€"
    assert listed(client.get("/sales/?day=2025-03-29").text) == [before.number]
    every_day = client.get("/sales/?day=").text
    assert listed(every_day) == [after.number, late.number, early.number, before.number]
    assert "Tous les jours : 4 reçus." in squeeze(every_day)
    assert table(every_day, "Reçus")[1][1] == "31/03/2025 00:30"


def test_links_switch_between_today_and_every_day_and_keep_the_other_filters(client, login, shop):
    relay, volunteer, _, awa, _, products = shop
    login(volunteer)
    page = client.get(f"/sales/?day=2025-03-30&person=awa&product={products['sim'].id}").text
    # the till is open: the way back is to the open session's list
    assert f'<a href="/sales/?person=awa&amp;product={products["sim"].id}">La session en cours</a>' in page
    assert f'<a href="/sales/?person=awa&amp;product={products["sim"].id}&amp;day=">Tous les jours</a>' in page
    today = client.get("/sales/").text
    assert ">La session en cours</a>" not in today and '<a href="/sales/?day=">Tous les jours</a>' in today
    assert f'value="{clock.today().isoformat()}"' in today  # the date field shows the day listed


@pytest.mark.parametrize("typed", ["traore", "TRAORÉ", "Awa", "aw tra", "{code}", "{code_without_prefix}"])
def test_person_filter_finds_people_as_the_people_search_does(client, login, shop, typed):
    relay, volunteer, _, awa, olena, products = shop
    hers = sell(volunteer, (products["sim"], 1), person=awa)
    sell(volunteer, (products["sim"], 1), person=olena)
    sell(volunteer, (products["sim"], 1))
    login(volunteer)
    query = typed.format(code=awa.code, code_without_prefix=awa.code.removeprefix("B-"))
    page = client.get("/sales/?" + urlencode({"person": query})).text
    assert listed(page) == [hers.number]
    assert " : 1 reçu trouvé." in squeeze(page)  # in the open cash session
    assert totals(page)["Ventes"] == "1"


def test_person_filter_that_can_match_nobody_lists_nothing(client, login, shop):
    relay, volunteer, _, awa, _, products = shop
    sell(volunteer, (products["sim"], 1), person=awa)
    login(volunteer)
    for query in ("--", "zzz"):
        page = client.get("/sales/?" + urlencode({"person": query}))
        assert page.status_code == 200 and listed(page.text) == [] and "<caption>Totaux" not in page.text


def test_product_filter_lists_the_receipts_with_that_product(client, login, shop):
    relay, volunteer, _, _, _, products = shop
    both = sell(volunteer, (products["sim"], 1), (products["recharge"], 1))
    sell(volunteer, (products["sim"], 1))
    recharge = sell(volunteer, (products["recharge"], 3))
    login(volunteer)
    page = client.get(f"/sales/?product={products['recharge'].id}").text
    assert listed(page) == [recharge.number, both.number]
    assert totals(page)["Montant net"] == f"45,00{NBSP}€"  # the whole receipts: 15 € + 30 €
    assert f'<option selected value="{products["recharge"].id}">Recharge 10 €</option>' in page


def test_receipt_filter_takes_the_full_number_or_its_last_digits(client, login, shop):
    relay, volunteer, _, _, _, products = shop
    sales = [sell(volunteer, (products["sim"], 1)) for _ in range(12)]
    login(volunteer)
    assert listed(client.get(f"/sales/?receipt={sales[1].number}").text) == [sales[1].number]
    assert listed(client.get(f"/sales/?receipt={sales[1].number.lower()}").text) == [sales[1].number]
    assert listed(client.get("/sales/?receipt=2").text) == [sales[11].number, sales[1].number]  # …12, …02
    assert listed(client.get("/sales/?receipt=000012").text) == [sales[11].number]
    assert listed(client.get("/sales/?receipt=" + "0 0 0 1 2").text) == [sales[11].number]
    assert listed(client.get("/sales/?receipt=99").text) == []


def test_another_relays_sales_and_people_never_show(client, login, shop, make_relay, make_user,
                                                   make_beneficiary):
    relay, volunteer, _, awa, _, products = shop
    elsewhere = make_relay(relay.territory, code="CADAGAP")  # the same territory, even
    seller = make_user(Role.VOLUNTEER, relay=elsewhere)
    yonas = make_beneficiary(elsewhere, "Yonas", "Tesfaye")
    for product in products.values():
        db.session.add(ProductOffer(product_id=product.id, relay_id=elsewhere.id))
        move_stock(elsewhere.id, product.id, 10, "delivery", None, "BL-TEST")
    db.session.commit()
    theirs = sell(seller, (products["recharge"], 1), person=yonas)
    ours = sell(volunteer, (products["sim"], 1), person=awa)
    login(volunteer)
    for url in ("/sales/", "/sales/?day=", "/sales/?person=yonas", f"/sales/?person={yonas.code}",
                f"/sales/?receipt={theirs.number}", f"/sales/?product={products['recharge'].id}"):
        page = client.get(url).text
        shown = " ".join(" ".join(row) for row in table(page, "Reçus"))  # the form keeps what was typed
        assert theirs.number not in shown and "Yonas" not in shown and yonas.code not in shown, url
        assert "Tesfaye" not in page, url
    assert listed(client.get("/sales/").text) == [ours.number]
    assert totals(client.get("/sales/?day=").text)["Montant net"] == f"5,00{NBSP}€"
    # The query itself is scoped: asked for the other relay's receipts, the volunteer's scope gives none.
    with client.application.test_request_context():
        from flask_login import login_user
        login_user(volunteer)
        assert sales_totals(elsewhere.id, SalesFilters()).receipts == 0
        assert sales_totals(relay.id, SalesFilters()).receipts == 1


def test_an_anonymised_person_shows_as_anonymised(client, login, shop):
    relay, volunteer, manager, awa, _, products = shop
    sale = sell(volunteer, (products["sim"], 1), person=awa)
    code = awa.code
    anonymise(awa, manager)
    login(volunteer)
    page = client.get("/sales/").text
    assert table(page, "Reçus")[1][2] == f"anonymisée {code}" and "Traoré" not in page
    assert listed(client.get(f"/sales/?person={code}").text) == [sale.number]  # the code still finds them


def test_the_htmx_fragment_is_the_results_block_only(client, login, shop):
    relay, volunteer, _, awa, _, products = shop
    sale = sell(volunteer, (products["sim"], 1), person=awa)
    login(volunteer)
    page = client.get("/sales/?person=awa")
    assert '<form method="get" action="/sales/" role="search"' in page.text
    assert 'hx-get="/sales/"' in page.text and 'hx-target="#results"' in page.text
    assert 'hx-push-url="true"' in page.text and '<div id="results">' in page.text
    fragment = client.get("/sales/?person=awa", headers=PARTIAL)
    assert fragment.status_code == 200 and "HX-Request" in fragment.headers["Vary"]
    assert fragment.text.lstrip().startswith('<p role="status">')
    assert "<html" not in fragment.text and "<form" not in fragment.text and "<h1>" not in fragment.text
    assert listed(fragment.text) == [sale.number] and "Awa Traoré" in fragment.text
    assert fragment.headers["Cache-Control"] == "no-store"  # it names people


def test_pages_keep_the_filters(client, login, shop):
    relay, volunteer, _, _, _, products = shop
    sales = [sell(volunteer, (products["recharge"], 1), at=paris(date(2025, 6, 2), 9, n)) for n in range(32)]
    sell(volunteer, (products["sim"], 1), at=paris(date(2025, 6, 2), 10, 0))
    login(volunteer)
    first = client.get(f"/sales/?day=2025-06-02&product={products['recharge'].id}").text
    assert len(listed(first)) == 30 and "Page 1 / 2" in first
    following = re.search(r'<a href="([^"]+)">Plus anciens →</a>', first).group(1).replace("&amp;", "&")
    assert following == f"/sales/?page=2&product={products['recharge'].id}&day=2025-06-02"
    second = client.get(following).text
    assert listed(second) == [sales[1].number, sales[0].number] and "Page 2 / 2" in second
    assert totals(second)["Ventes"] == "32"  # the totals are those of every page
    beyond = client.get("/sales/?day=2025-06-02&page=9").text
    assert listed(beyond) == [] and "revenir à la première" in beyond


def test_a_page_of_thirty_receipts_is_within_the_budget(client, login, shop, make_beneficiary, make_product):
    """The heaviest rows: long names in several scripts, three products and split payments."""
    relay, volunteer, _, _, _, products = shop
    more = [make_product([relay], stock=100, name=f"Smartphone reconditionné grade {g} (Android)", price=4000,
                         category="accessory", eligibility_required=False) for g in "ABC"]
    for n in range(31):
        person = make_beneficiary(relay, f"Marie-Christine-{n}", f"Abdelkader Ben Youssef-Шевченко {n}")
        sell(volunteer, (products["recharge"], 2), (products["sim"], 1), (more[n % 3], 1), (products["free"], 1),
             person=person, pay=[PaymentRequest("cash", 2000), PaymentRequest("card", 4000),
                                 PaymentRequest("cheque", 500, reference=f"{n:07d}")])
    login(volunteer)
    page = client.get("/sales/")
    assert len(listed(page.text)) == 30
    compressed = len(gzip.compress(page.data, 6))  # Flask-Compress's default level
    assert compressed <= PAGE_BUDGET, f"{compressed} bytes compressed ({len(page.data)} raw)"
    fragment = client.get("/sales/", headers=PARTIAL)
    compressed = len(gzip.compress(fragment.data, 6))
    assert compressed <= FRAGMENT_BUDGET, f"fragment: {compressed} bytes compressed ({len(fragment.data)} raw)"


@pytest.mark.parametrize("args, field, message", [
    ({"day": "2026-02-30"}, "day", "N'est pas une date valide."),
    ({"day": "hier"}, "day", "N'est pas une date valide."),
    ({"day": "9999-12-31"}, "day", "Ce jour n'est pas encore arrivé."),
    ({"day": "0001-01-01"}, "day", "Choisissez un jour depuis le 01/01/2000."),
    ({"person": "x" * 81}, "person", "80 caractères au plus."),
    ({"person": "Ami\x00na"}, "person", HIDDEN_CHARACTERS),
    ({"person": "\u202eanimA"}, "person", HIDDEN_CHARACTERS),
    ({"receipt": "12/3"}, "receipt", "Lettres, chiffres et tirets seulement."),
    ({"receipt": "1" * 31}, "receipt", "30 caractères au plus."),
    ({"receipt": "12\x1b"}, "receipt", "Lettres, chiffres et tirets seulement."),
    ({"product": "999999"}, "product", "Choisissez un produit de la liste."),
    ({"product": str(10**30)}, "product", "Choisissez un produit de la liste."),
])
def test_bad_filters_are_refused_next_to_their_field(client, login, shop, args, field, message):
    _, volunteer, _, _, _, products = shop
    sell(volunteer, (products["sim"], 1))
    login(volunteer)
    page = client.get("/sales/?" + urlencode(args))
    assert page.status_code == 422
    escaped = message.replace("'", "&#39;")
    assert f'<p id="{field}-error" class="error">{escaped}</p>' in page.text
    assert 'aria-invalid="true"' in page.text and listed(page.text) == []
    fragment = client.get("/sales/?" + urlencode(args), headers=PARTIAL)
    assert fragment.status_code == 422 and 'role="alert"' in fragment.text and escaped in fragment.text
    assert f'<a href="#{field}">' in fragment.text and "<form" not in fragment.text


@settings(max_examples=40, deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_hostile_filters_get_a_page_or_a_french_message(client, login, shop, data):
    """Whatever the query string: the list or a 422 with a French message, never a 5xx; what was
    typed comes back escaped."""
    _, volunteer, _, _, _, products = shop
    if not getattr(client, "signed_in", False):
        sell(volunteer, (products["sim"], 1))
        login(volunteer)
        client.signed_in = True
    names = data.draw(st.lists(st.sampled_from(["day", "person", "product", "receipt", "page", "other"]),
                               min_size=1, max_size=4))
    pairs = [(name, data.draw(hostile_values(), label=name)) for name in names]
    encoding = data.draw(st.sampled_from(["utf-8", "latin-1"]))
    headers = PARTIAL if data.draw(st.booleans()) else {}
    url = "/sales/?" + urlencode(pairs, encoding=encoding, errors="replace")
    response = client.get(url, headers=headers)
    assert response.status_code in (200, 422), f"{url}: {response.status_code}"
    lowered = response.text.lower()
    assert not any(raw in lowered for raw in UNESCAPED), f"{url}: unescaped markup"
    assert not ENGLISH.search(response.text), f"{url}: {ENGLISH.search(response.text)}"
    if response.status_code == 422:
        assert 'role="alert"' in response.text, f"{url}: no message"


@pytest.mark.parametrize("role", [Role.COORDINATOR, Role.ADMIN])
def test_coordinators_and_admins_have_no_sales_list(client, login, shop, make_user, role):
    relay = shop[0]
    login(make_user(role, territory=relay.territory) if role == Role.COORDINATOR else make_user(role))
    assert client.get("/sales/").status_code == 403
    assert client.get("/sales/?day=", headers=PARTIAL).status_code == 403
