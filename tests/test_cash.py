"""The till's sessions: opened with a counted float (or the last closing's cash carried over),
closed with what it should hold per payment method, differences and their reason, bank deposits,
refunds in the session they are made in, one open session per relay (also under concurrent
requests), a running grand total, the ledger seal in named formats, the report, the forms and
who may use them — on SQLite and PostgreSQL."""
import io
import json
import uuid
from dataclasses import replace
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pypdf import PdfReader
from sqlalchemy import func, select, update

from portal import clock, payments
from portal.cash.documents import closing_context
from portal.cash.models import BankDeposit, CashCount, CashSession
from portal.cash.operations import (close_session, open_session, open_session_of, record_deposit,
                                    session_summary)
from portal.extensions import db
from portal.ledger.models import LedgerEntry
from portal.ledger.operations import short_fingerprint, verify_relay
from portal.sales.models import Sale
from portal.errors import Refused
from portal.sales.operations import LineRequest, PaymentRequest, record_sale, void_sale
from portal.security import Role
from portal.users.models import User
from tests.test_receipt import assert_plain
from tests.test_sales_core import run_concurrently

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)

PARIS = ZoneInfo("Europe/Paris")
PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


def utc(day: date, hour: int, minute: int = 0) -> datetime:
    """Local (Paris) day and time → the naive UTC datetime stored in Sale.created_at."""
    local = datetime.combine(day, time(hour, minute), tzinfo=PARIS)
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def paris(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=PARIS)


def counted(**amounts) -> dict:
    """Cents counted per method: 0 for those not named."""
    return dict.fromkeys((m.code for m in payments.counted()), 0) | amounts


def close_till(manager, amounts: dict | None = None, reason: str = "", at=None, reopen: bool = True) -> CashSession:
    """Close the manager's relay's open session (counted as expected unless `amounts` says) and,
    unless `reopen` is False, open the next one with no float — as a test needs it."""
    expected = session_summary(open_session_of(manager.relay_id))["expected"]
    closed = close_session(manager, counted(**amounts) if amounts is not None else expected, {}, reason, at=at)
    if reopen:
        open_session(manager, 0, at=at)
    return closed


@pytest.fixture
def shop(make_relay, make_user, make_product, make_beneficiary):
    """A relay whose till is not open yet, its manager and volunteer, an eligible person, a SIM
    (5 €), a recharge (10 €) and a free emergency SIM."""
    relay = make_relay(till_open=False)
    manager = make_user(Role.MANAGER, relay=relay, display_name="Karim Benali")
    volunteer = make_user(Role.VOLUNTEER, relay=relay)
    person = make_beneficiary(relay, "Олена", "Шевченко", eligible_on=clock.today())
    sim = make_product([relay], stock=100, name="Carte SIM", price=500, reference=1500)
    recharge = make_product([relay], stock=100, name="Recharge 10 €", category="recharge", price=1000,
                            reference=1000)
    free = make_product([relay], stock=100, name="SIM d'urgence", category="free_sim", price=0, reference=1000)
    return relay, manager, volunteer, person, {"sim": sim, "recharge": recharge, "free": free}


def sell(user, person, product, pay, quantity=1, at=None):
    return record_sale(user, uuid.uuid4().hex, [LineRequest(product.id, quantity)], pay, person.id, at=at)


@pytest.fixture
def busy_session(shop):
    """A session opened with a 20 € float: cash with change, card, cheque, a free SIM, and a cash
    sale voided in the same session."""
    relay, manager, volunteer, person, p = shop
    open_session(manager, 2000)
    first = sell(volunteer, person, p["sim"], [PaymentRequest("cash", 1500, 2000)], 3)  # 20 € given, 5 € back
    sell(volunteer, person, p["sim"], [PaymentRequest("card", 500)])
    sell(volunteer, person, p["recharge"], [PaymentRequest("cheque", 1000, reference="0000123")])
    sell(volunteer, person, p["free"], [])
    mistake = sell(volunteer, person, p["sim"], [PaymentRequest("cash", 500)])
    last = void_sale(manager, mistake, "mauvais produit", uuid.uuid4().hex)
    return first, last


# --- the story of a day -------------------------------------------------------------------

def test_a_manager_closes_at_ten_and_a_volunteer_sells_at_five_past_after_one_click(shop):
    relay, manager, volunteer, person, p = shop
    today = clock.today()
    with time_machine.travel(paris(today, 8, 30), tick=False):
        open_session(manager, 5000)
        morning = sell(volunteer, person, p["sim"], [PaymentRequest("cash", 500)])
    with time_machine.travel(paris(today, 10, 0), tick=False):
        first = close_session(manager, counted(cash=5500), {}, "")
        with pytest.raises(Refused, match="La caisse n'est pas ouverte"):
            sell(volunteer, person, p["sim"], [PaymentRequest("card", 500)])
        with pytest.raises(Refused, match="référent"):
            open_session(volunteer, carry_over=True)
        second = open_session(manager, carry_over=True)  # the one click
    with time_machine.travel(paris(today, 10, 5), tick=False):
        later = sell(volunteer, person, p["sim"], [PaymentRequest("card", 500)])
    with time_machine.travel(paris(today, 18, 0), tick=False):
        evening = close_session(manager, counted(cash=5500, card=500), {}, "")
    assert (first.day, first.sales_count, first.first_number, first.last_number) == (today, 1, morning.number,
                                                                                      morning.number)
    assert [(c.method, c.expected_cents, c.counted_cents) for c in first.counts][:2] == [("cash", 5500, 5500),
                                                                                         ("card", 0, 0)]
    assert second.opening_float_cents == 5500 and second.carried_from_id == first.id
    assert (morning.cash_session_id, later.cash_session_id) == (first.id, second.id)
    assert (evening.day, evening.sales_count, evening.first_number) == (today, 1, later.number)
    assert session_summary(evening)["expected"]["cash"] == 5500  # the float carried over, nothing sold in cash
    assert (first.grand_total_cents, evening.grand_total_cents) == (500, 1000)
    assert verify_relay(relay.id) is None


def test_the_session_expects_the_float_and_what_its_receipts_brought(shop, busy_session):
    relay, *_ = shop
    first, last = busy_session
    summary = session_summary(open_session_of(relay.id))
    assert summary["expected"] == counted(cash=2000 + 1500, card=500, cheque=1000)  # the void gave its 5 € back
    assert summary["sales_count"] == 6 and summary["voids_count"] == 1
    assert (summary["first_number"], summary["last_number"]) == (first.number, last.number)
    assert summary["total_cents"] == 3000
    assert summary["refunds"] == [{"number": last.number, "original": last.voids.number, "method": "cash",
                                   "amount_cents": -500}]


def test_a_bank_deposit_lowers_the_expected_cash(shop, busy_session):
    relay, manager, volunteer, *_ = shop
    with pytest.raises(Refused, match="bordereau"):
        record_deposit(manager, 1000, "  ")
    with pytest.raises(Refused, match="supérieur à 0"):
        record_deposit(manager, 0, "B-1")
    with pytest.raises(Refused, match="ne devrait contenir que 35,00 €"):
        record_deposit(manager, 4000, "B-1")
    with pytest.raises(Refused, match="référent"):
        record_deposit(volunteer, 1000, "B-1")
    record_deposit(manager, 3000, "BD-0042")
    assert session_summary(open_session_of(relay.id))["expected"]["cash"] == 500
    closed = close_session(manager, counted(cash=500, card=500, cheque=1000), {}, "")
    payload = json.loads(db.session.scalar(select(LedgerEntry.payload).where(LedgerEntry.kind == "closing")))
    assert payload["deposits"][0][:2] == [3000, "BD-0042"] and payload["float"] == 2000
    db.session.execute(update(BankDeposit).values(amount_cents=2000))
    db.session.commit()
    assert f"(closing #{closed.id})" in verify_relay(relay.id)


def test_one_session_at_a_time_and_the_float_carried_over(shop):
    relay, manager, volunteer, person, p = shop
    with pytest.raises(Refused, match="fond de caisse"):
        open_session(manager, -100)
    open_session(manager, 1000)
    with pytest.raises(Refused, match="déjà ouverte"):
        open_session(manager, 0)
    sell(volunteer, person, p["sim"], [PaymentRequest("cash", 500)])
    closed = close_session(manager, counted(cash=1400), {}, "pièce de 1 € rendue en trop")
    with pytest.raises(Refused, match="Aucune session"):
        close_session(manager, counted(), {}, "")
    carried = open_session(manager, carry_over=True)
    assert (carried.opening_float_cents, carried.carried_from_id) == (1400, closed.id)
    typed = close_session(manager, counted(cash=1400), {}, "")
    assert open_session(manager, 2000).opening_float_cents == 2000 and typed.grand_total_cents == 500


def test_a_difference_needs_a_reason(shop, busy_session):
    relay, manager, *_ = shop
    with pytest.raises(Refused, match="raison de l'écart") as refused:
        close_session(manager, counted(cash=3400, card=500, cheque=1000), {}, "  ")
    assert refused.value.field == "reason"
    with pytest.raises(Refused, match="raison"):
        close_session(manager, counted(cash=3500, card=500), {}, "")  # the cheque was not counted
    assert open_session_of(relay.id) is not None
    closed = close_session(manager, counted(cash=3400, card=500, cheque=1000), {}, "pièce de 1 € rendue en trop")
    assert closed.differences() == {"cash": -100} and closed.difference_reason == "pièce de 1 € rendue en trop"


def test_the_notes_and_coins_must_add_up_to_the_cash_counted(shop):
    _, manager, *_ = shop
    open_session(manager, 0)
    with pytest.raises(Refused, match="billets et pièces"):
        close_session(manager, counted(cash=1000), {500: 1}, "")


def test_only_a_manager_opens_closes_and_deposits(shop):
    _, manager, volunteer, *_ = shop
    with pytest.raises(Refused, match="référent"):
        open_session(volunteer, 0)
    open_session(manager, 0)
    with pytest.raises(Refused, match="référent"):
        close_session(volunteer, counted(), {}, "")


# --- refunds ------------------------------------------------------------------------------

def test_a_cheque_sale_of_a_closed_session_is_refunded_in_cash(shop):
    """The cheque went to the bank with its session: this session must not expect -5 € of cheques."""
    relay, manager, volunteer, person, p = shop
    open_session(manager, 1000)
    sale = sell(volunteer, person, p["sim"], [PaymentRequest("cheque", 500, reference="1234567")])
    close_till(manager)
    with pytest.raises(Refused, match="remboursement"):
        void_sale(manager, sale, "erreur", uuid.uuid4().hex, refund_method="cheque")
    void = void_sale(manager, sale, "erreur", uuid.uuid4().hex)
    summary = session_summary(open_session_of(relay.id))
    assert summary["expected"]["cheque"] == 0 and summary["expected"]["cash"] == -500
    assert summary["refunds"] == [{"number": void.number, "original": sale.number, "method": "cash",
                                   "amount_cents": -500}]
    closed = close_session(manager, counted(cash=-500), {}, "")
    report = closing_context(closed)
    assert report["refunds"] == [{"number": void.number, "original": sale.number, "method": "Espèces",
                                  "amount": "-5,00\xa0€"}]
    assert verify_relay(relay.id) is None


def test_a_refund_in_the_same_session_mirrors_the_payment_unless_told(shop):
    relay, manager, volunteer, person, p = shop
    open_session(manager, 0)
    by_cheque = sell(volunteer, person, p["sim"], [PaymentRequest("cheque", 500, reference="7654321")])
    by_card = sell(volunteer, person, p["sim"], [PaymentRequest("card", 500)])
    void_sale(manager, by_cheque, "erreur", uuid.uuid4().hex)
    void_sale(manager, by_card, "erreur", uuid.uuid4().hex, refund_method="cash")
    assert session_summary(open_session_of(relay.id))["expected"] == counted(cash=-500, card=500)


# --- concurrency ----------------------------------------------------------------------------

def test_a_closing_and_a_sale_at_once_take_turns(app, shop):
    """Either the sale comes first and the closing counts it, or the closing comes first and the
    sale is refused: never a sale in a closed session."""
    relay, manager, volunteer, person, p = shop
    open_session(manager, 0)
    ids = {"manager": manager.id, "volunteer": volunteer.id, "person": person.id, "sim": p["sim"].id}

    def work(i):
        if i == 0:
            user = db.session.get(User, ids["manager"])
            expected = session_summary(open_session_of(user.relay_id))["expected"]
            return close_session(user, expected, {}, "différence possible" if True else "").id
        user = db.session.get(User, ids["volunteer"])
        return record_sale(user, uuid.uuid4().hex, [LineRequest(ids["sim"])], [PaymentRequest("cash", 500)],
                           ids["person"]).id

    results, errors = run_concurrently(app, 2, work)
    closed = db.session.scalar(select(CashSession).where(CashSession.closed_at.is_not(None)))
    sales = db.session.scalars(select(Sale)).all()
    assert closed is not None
    if errors:  # the closing came first
        assert len(errors) == 1 and isinstance(errors[0], Refused) and not sales
        assert closed.sales_count == 0
    else:  # the sale came first: the closing counted it
        assert len(sales) == 1 and sales[0].cash_session_id == closed.id and closed.sales_count == 1
    assert all(sale.cash_session_id == closed.id for sale in sales)
    assert verify_relay(relay.id) is None


def test_concurrent_opens_make_one_session(app, shop):
    relay, manager, *_ = shop
    manager_id = manager.id

    def work(i):
        return open_session(db.session.get(User, manager_id), 100 * i).id

    ids, errors = run_concurrently(app, 4, work)
    assert len([i for i in ids if i]) == 1
    assert len(errors) == 3 and all(isinstance(e, Refused) and "déjà ouverte" in e.message for e in errors)
    assert db.session.scalar(select(func.count()).select_from(CashSession)) == 1


# --- the ledger ------------------------------------------------------------------------------

def test_a_closing_is_sealed_with_named_methods_and_survives_a_change_of_the_list(shop, busy_session, monkeypatch):
    relay, manager, *_ = shop
    closed = close_session(manager, counted(cash=3500, card=500, cheque=1000), {}, "")
    payload = json.loads(db.session.scalar(select(LedgerEntry.payload).where(LedgerEntry.ref_id == closed.id,
                                                                             LedgerEntry.kind == "closing")))
    assert payload["format"] == 2 and payload["expected"]["cheque"] == 1000 and payload["counted"]["cash"] == 3500
    assert verify_relay(relay.id) is None
    new_list = tuple(replace(m, retired=True) if m.code == "cheque" else m for m in payments.METHODS) + (
        payments.PaymentMethod("transfer", "Virement"),)
    monkeypatch.setattr(payments, "METHODS", new_list)
    assert "transfer" in [m.code for m in payments.counted()]
    assert verify_relay(relay.id) is None
    db.session.execute(update(CashCount).where(CashCount.session_id == closed.id, CashCount.method == "cash")
                       .values(counted_cents=3000))
    db.session.commit()
    problem = verify_relay(relay.id)
    assert f"(closing #{closed.id})" in problem and "modifiée après son enregistrement" in problem


def test_a_deleted_closing_is_named_by_the_ledger(shop):
    relay, manager, *_ = shop
    open_session(manager, 0)
    closed = close_session(manager, counted(), {}, "")
    db.session.execute(update(CashSession).where(CashSession.id == closed.id).values(closed_at=None))
    db.session.commit()
    assert "(closing #" in verify_relay(relay.id)


# --- pages and report ---------------------------------------------------------------------

@pytest.fixture
def as_manager(client, login, shop):
    assert login(shop[1]).status_code == 303
    return client


def test_the_till_page_opens_shows_and_closes_a_session(as_manager, shop):
    relay, manager, volunteer, person, p = shop
    page = as_manager.get("/cash/")
    assert page.status_code == 200 and "Ouvrir une nouvelle session" in page.text
    assert "Aucune session clôturée." in page.text
    refused = as_manager.post("/cash/open", data={"opening_float": "-5"})
    assert refused.status_code == 422 and "négatif" in refused.text
    assert as_manager.post("/cash/open", data={"opening_float": "20"}).status_code == 303
    sell(volunteer, person, p["sim"], [PaymentRequest("cash", 500)])
    page = as_manager.get("/cash/")
    assert "Clôturer la session" in page.text and "25,00\xa0€" in page.text  # 20 € float + 5 € sold
    bad = as_manager.post("/cash/deposit", data={"amount": "10"})
    assert bad.status_code == 422 and "bordereau" in bad.text
    assert as_manager.post("/cash/deposit", data={"amount": "10", "slip_number": "BD-7"}).status_code == 303
    assert "bordereau n° BD-7" in as_manager.get("/cash/").text
    form = as_manager.get("/cash/close")
    assert "Espèces — attendu : 15,00\xa0€" in form.text and "<strong>1</strong> ticket" in form.text
    done = as_manager.post("/cash/close", data={"counted_cash": "15", "counted_card": "0"})
    closed = db.session.scalar(select(CashSession).where(CashSession.closed_at.is_not(None)))
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/cash/{closed.id}")
    assert "Session clôturée" in as_manager.get(f"/cash/{closed.id}").text
    assert as_manager.get("/cash/close").status_code == 303  # nothing open: back to the till page
    again = as_manager.post("/cash/open", data={})  # empty: the counted cash carried over
    assert again.status_code == 303 and open_session_of(relay.id).opening_float_cents == 1500


@pytest.mark.parametrize("typed, message", [
    ({}, "Indiquez les espèces comptées"),
    ({"counted_cash": "douze"}, "Montant non valide : écrivez par exemple 12,50."),
    ({"counted_cash": "12,505"}, "Deux chiffres au plus après la virgule."),
    ({"counted_cash": "15", "counted_card": "--5"}, "Montant non valide"),
    ({"counted_cash": "15", "counted_card": "-"}, "Montant non valide"),
    ({"counted_cash": "15", "n5000": "deux"}, "N&#39;est pas un entier valide.</p>"),  # one message
    ({"counted_cash": "15", "n5000": "-1"}, "Un nombre entre 0 et 9999."),
    ({"counted_cash": "15", "n1000": "1"}, "Les billets et pièces comptés font 10,00\xa0€"),
    ({"counted_cash": "14"}, "Indiquez la raison de l&#39;écart"),
])
def test_the_closing_form_fails_in_place_in_french(as_manager, shop, typed, message):
    open_session(shop[1], 1500)
    page = as_manager.post("/cash/close", data=typed)
    assert page.status_code == 422 and message in page.text
    assert open_session_of(shop[0].id) is not None


def test_counting_notes_and_coins_gives_the_cash(as_manager, shop):
    relay, manager, volunteer, person, p = shop
    open_session(manager, 0)
    sell(volunteer, person, p["sim"], [PaymentRequest("cash", 1500, 2000)], 3)
    counts = {"n1000": "1", "n200": "2", "n50": "2"}  # 10 € + 4 € + 1 € = 15 €
    computed = as_manager.post("/cash/close", data=counts | {"compute": "1"})
    assert computed.status_code == 200 and "Total des billets et pièces : <strong>15,00\xa0€</strong>" in computed.text
    assert "aucun" in computed.text and open_session_of(relay.id) is not None
    assert as_manager.post("/cash/close", data=counts).status_code == 303
    closed = db.session.scalar(select(CashSession))
    assert closed.cash_detail == '{"1000": 1, "200": 2, "50": 2}'
    assert [(d["label"], d["count"]) for d in closing_context(closed)["cash_detail"]] == [
        ("10 €", 1), ("2 €", 2), ("0,50 €", 2)]


def test_the_forms_as_htmx_fragments(as_manager, shop):
    invalid = as_manager.post("/cash/open", data={"opening_float": "x"}, headers=PARTIAL)
    assert invalid.status_code == 422 and invalid.text.lstrip().startswith("<form") and "<html" not in invalid.text
    assert as_manager.post("/cash/open", data={"opening_float": "0"}, headers=PARTIAL).status_code == 204
    invalid = as_manager.post("/cash/close", data={"counted_cash": "x"}, headers=PARTIAL)
    assert invalid.status_code == 422 and invalid.text.lstrip().startswith("<form")
    assert "<html" not in invalid.text and "Montant non valide" in invalid.text
    done = as_manager.post("/cash/close", data={"counted_cash": "0"}, headers=PARTIAL)
    closed = db.session.scalar(select(CashSession))
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/cash/{closed.id}"


def test_the_report_pdf_and_its_html_twin(as_manager, shop, busy_session):
    relay, manager, *_ = shop
    first, last = busy_session
    record_deposit(manager, 1000, "BD-0099")
    closed = close_session(manager, counted(cash=2450, card=500, cheque=1000), {}, "pièce perdue")
    response = as_manager.get(f"/cash/{closed.id}/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert f'filename="cloture-{relay.code}-{closed.day.isoformat()}-{closed.id}.pdf"' in \
        response.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    text = " ".join("\n".join(p.extract_text() for p in reader.pages).replace("\xa0", " ").split())
    mac = db.session.scalar(select(LedgerEntry.mac).where(LedgerEntry.kind == "closing",
                                                          LedgerEntry.ref_id == closed.id))
    for expected in [
        relay.name, "Clôture de caisse", "Session ouverte", "Fond de caisse 20,00 €",
        "Espèces 25,00 € 24,50 € -0,50 €", "Carte bancaire 5,00 € 5,00 €", "Chèque 10,00 € 10,00 €",
        "Prise en charge 0,00 € 0,00 €", "Total 40,00 € 39,50 € -0,50 €", "Raison de l’écart : pièce perdue",
        "bordereau n° BD-0099 10,00 €", f"{last.number} {last.voids.number} Espèces -5,00 €",
        "Tickets 6", f"Premier ticket {first.number}", f"Dernier ticket {last.number}",
        "Total de la session 30,00 €", "Total cumulé depuis la première vente 30,00 €",
        "par Karim Benali", short_fingerprint(mac),
    ]:
        assert expected in text, expected
    twin = as_manager.get(f"/cash/{closed.id}/report")
    assert twin.status_code == 200 and "pièce perdue" in twin.text and last.number in twin.text
    assert_plain(closing_context(closed))


def test_the_sale_screen_says_whether_the_till_is_open(client, login, shop):
    relay, manager, volunteer, person, p = shop
    login(volunteer)
    page = client.get(f"/sales/new?beneficiary={person.id}")
    assert "La caisse n'est pas ouverte : demandez à Karim Benali de l'ouvrir." in page.text
    cart = {"beneficiary_id": str(person.id), "token": uuid.uuid4().hex, "line-0-product": str(p["sim"].id),
            "line-0-quantity": "1", "pay_cash": "5", "cash_given": "5"}
    refused = client.post("/sales/new", data=cart)
    assert refused.status_code == 422 and "La caisse n&#39;est pas ouverte" in refused.text
    assert "Carte SIM" in refused.text  # the cart stays on the screen
    client.post("/logout")
    login(manager)
    page = client.get(f"/sales/new?beneficiary={person.id}")
    assert "Ouvrir la caisse" in page.text and "/cash/open?then=sale" in page.text
    opened = client.post("/cash/open?then=sale", data=cart | {"opening_float": ""})
    assert opened.status_code == 307 and opened.headers["Location"].endswith("/sales/new/recalculate")
    assert open_session_of(relay.id) is not None
    again = client.post("/sales/new/recalculate", data=cart)
    assert "Carte SIM" in again.text and "Ouvrir la caisse" not in again.text
    assert client.post("/sales/new", data=cart).status_code == 303


def test_the_void_form_offers_the_refund_methods(client, login, shop):
    relay, manager, volunteer, person, p = shop
    open_session(manager, 0)
    sale = sell(volunteer, person, p["sim"], [PaymentRequest("cheque", 500, reference="1234567")])
    login(manager)
    form = client.get(f"/sales/{sale.id}/void")
    assert "comme la vente a été payée" in form.text and 'value="cheque"' in form.text
    close_till(manager)
    form = client.get(f"/sales/{sale.id}/void")
    assert 'value="cheque"' not in form.text and 'value="cash" checked' in form.text
    assert client.post(f"/sales/{sale.id}/void", data={"reason": "erreur", "refund_method": "card",
                                                       "token": uuid.uuid4().hex}).status_code == 303
    assert session_summary(open_session_of(relay.id))["expected"]["card"] == -500


def test_only_the_relays_managers_see_the_till(client, login, shop, make_user):
    relay, manager, volunteer, *_ = shop
    open_session(manager, 0)
    closed = close_session(manager, counted(), {}, "")
    login(volunteer)
    for url in ("/cash/", "/cash/close", f"/cash/{closed.id}", f"/cash/{closed.id}/report.pdf"):
        assert client.get(url).status_code == 403, url
    for url in ("/cash/open", "/cash/deposit", "/cash/close"):
        assert client.post(url, data={"opening_float": "0"}).status_code == 403, url
    assert open_session_of(relay.id) is None
    client.post("/logout")
    login(make_user(Role.MANAGER))  # another relay's manager
    for url in (f"/cash/{closed.id}", f"/cash/{closed.id}/report.pdf", f"/cash/{closed.id}/report"):
        assert client.get(url).status_code == 404, url
    assert "Aucune session clôturée." in client.get("/cash/").text
