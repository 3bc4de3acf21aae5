"""The daily cash closing: what the till should hold per payment method, differences and their
reason, one closing per day (also under concurrent submissions), a running grand total, the
ledger seal, the report, the form and who may use it — on SQLite and PostgreSQL."""
import io
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select, update

from portal import clock
from portal.cash.documents import closing_context
from portal.cash.models import CashClosing
from portal.cash.operations import close_day, closing_problem, day_summary, unclosed_days
from portal.errors import Refused
from portal.extensions import db
from portal.ledger.models import LedgerEntry
from portal.ledger.operations import short_fingerprint, verify_relay
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


@pytest.fixture
def shop(make_user, make_product, make_beneficiary):
    """A relay's manager and volunteer, an eligible person, a SIM (5 €), a recharge (10 €) and a
    free emergency SIM."""
    manager = make_user(Role.MANAGER, display_name="Karim Benali")
    relay = manager.relay
    volunteer = make_user(Role.VOLUNTEER, relay=relay)
    person = make_beneficiary(relay, "Олена", "Шевченко", eligible_on=clock.today())
    sim = make_product([relay], stock=100, name="Carte SIM", price=500, reference=1500)
    recharge = make_product([relay], stock=100, name="Recharge 10 €", category="recharge", price=1000,
                            reference=1000)
    free = make_product([relay], stock=100, name="SIM d'urgence", category="free_sim", price=0, reference=1000)
    return relay, manager, volunteer, person, {"sim": sim, "recharge": recharge, "free": free}


def sell(user, person, product, pay, quantity=1, at=None):
    return record_sale(user, uuid.uuid4().hex, [LineRequest(product.id, quantity)], pay, person.id, at=at)


def nothing_counted(**amounts):
    return {"cash": 0, "card": 0, "cheque": 0} | amounts


@pytest.fixture
def busy_day(shop):
    """Today (a void is recorded now): cash with change, card, cheque, a free SIM, a cash sale
    voided the same day, and a sale just before the local day began."""
    relay, manager, volunteer, person, p = shop
    day = clock.today()
    sell(volunteer, person, p["sim"], [PaymentRequest("cash", 500)], at=utc(day - timedelta(days=1), 23, 59))
    first = sell(volunteer, person, p["sim"], [PaymentRequest("cash", 1500, 2000)], 3,  # 20 € given, 5 € back
                 at=utc(day, 0, 5))
    sell(volunteer, person, p["sim"], [PaymentRequest("card", 500)], at=utc(day, 0, 6))
    sell(volunteer, person, p["recharge"], [PaymentRequest("cheque", 1000, reference="0000123")],
         at=utc(day, 0, 7))
    sell(volunteer, person, p["free"], [], at=utc(day, 0, 8))
    mistake = sell(volunteer, person, p["sim"], [PaymentRequest("cash", 500)], at=utc(day, 0, 15))
    last = void_sale(manager, mistake, "mauvais produit", uuid.uuid4().hex)
    return day, first, last


def test_the_day_expects_what_the_sales_brought_per_method(shop, busy_day):
    relay, *_ = shop
    day, first, last = busy_day
    summary = day_summary(relay.id, day)
    assert summary["expected"] == {"cash": 1500, "card": 500, "cheque": 1000}  # the change went back; the void too
    assert summary["sales_count"] == 6 and summary["voids_count"] == 1  # every receipt of the day
    assert (summary["first_number"], summary["last_number"]) == (first.number, last.number)
    assert summary["day_total_cents"] == 1500 + 500 + 1000 + 0 + 500 - 500
    before = day_summary(relay.id, day - timedelta(days=1))
    assert before["sales_count"] == 1 and before["expected"]["cash"] == 500


def test_local_days_follow_paris_time_in_summer_and_winter(shop):
    relay, _, volunteer, person, p = shop
    for day in (date(2025, 7, 14), date(2025, 1, 15)):
        # 22:30 or 23:30 UTC the day before, and 21:30 or 22:30 UTC the same day
        sell(volunteer, person, p["sim"], [PaymentRequest("card", 500)], at=utc(day, 0, 30))
        sell(volunteer, person, p["sim"], [PaymentRequest("card", 500)], at=utc(day, 23, 30))
        assert day_summary(relay.id, day)["expected"]["card"] == 1000
        assert day_summary(relay.id, day - timedelta(days=1))["sales_count"] == 0
        assert day_summary(relay.id, day + timedelta(days=1))["sales_count"] == 0


def test_closing_a_day_records_and_seals_every_figure(shop, busy_day):
    relay, manager, *_ = shop
    day, first, last = busy_day
    close_day(manager, day - timedelta(days=1), nothing_counted(cash=500), {}, "")
    closing = close_day(manager, day, nothing_counted(cash=1500, card=500, cheque=1000),
                        {2000: 0, 1000: 1, 500: 1}, "")
    assert (closing.expected_cash_cents, closing.counted_cash_cents) == (1500, 1500)
    assert closing.cash_detail == '{"1000": 1, "500": 1}'
    assert (closing.sales_count, closing.first_number, closing.last_number) == (6, first.number, last.number)
    assert (closing.day_total_cents, closing.grand_total_cents) == (3000, 3500)
    assert closing.difference_reason == "" and closing.closed_by_id == manager.id
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "closing",
                                                        LedgerEntry.ref_id == closing.id))
    assert entry is not None and f'"day":"{day.isoformat()}"' in entry.payload
    assert verify_relay(relay.id) is None


def test_a_difference_needs_a_reason(shop, busy_day):
    relay, manager, *_ = shop
    day, *_ = busy_day
    close_day(manager, day - timedelta(days=1), nothing_counted(cash=500), {}, "")
    with pytest.raises(Refused, match="raison de l'écart") as refused:
        close_day(manager, day, nothing_counted(cash=1400, card=500, cheque=1000), {}, "  ")
    assert refused.value.field == "reason"
    with pytest.raises(Refused, match="raison"):
        close_day(manager, day, nothing_counted(cash=1500, card=500), {}, "")  # the cheque was not counted
    assert db.session.scalar(select(func.count()).select_from(CashClosing)) == 1
    closing = close_day(manager, day, nothing_counted(cash=1400, card=500, cheque=1000), {},
                        "pièce de 1 € rendue en trop")
    assert closing.counted_cash_cents - closing.expected_cash_cents == -100
    assert closing.difference_reason == "pièce de 1 € rendue en trop"


def test_the_notes_and_coins_must_add_up_to_the_cash_counted(shop):
    _, manager, *_ = shop
    with pytest.raises(Refused, match="billets et pièces"):
        close_day(manager, clock.today(), nothing_counted(cash=1000), {500: 1}, "")


def test_a_day_is_closed_once(shop, busy_day):
    _, manager, *_ = shop
    day, *_ = busy_day
    close_day(manager, day - timedelta(days=1), nothing_counted(cash=500), {}, "")
    close_day(manager, day, nothing_counted(cash=1500, card=500, cheque=1000), {}, "")
    with pytest.raises(Refused, match="Cette journée est déjà clôturée."):
        close_day(manager, day, nothing_counted(cash=1500, card=500, cheque=1000), {}, "")
    assert db.session.scalar(select(func.count()).select_from(CashClosing)) == 2


def test_two_closings_of_the_same_day_at_once_make_one(app, shop, busy_day):
    relay, manager, *_ = shop
    day, *_ = busy_day
    close_day(manager, day - timedelta(days=1), nothing_counted(cash=500), {}, "")
    manager_id = manager.id

    def close(i):
        user = db.session.get(User, manager_id)
        return close_day(user, day, nothing_counted(cash=1500, card=500, cheque=1000), {}, "").id

    ids, errors = run_concurrently(app, 4, close)
    assert len([i for i in ids if i]) == 1
    assert len(errors) == 3 and all(isinstance(e, Refused) and "déjà clôturée" in e.message for e in errors)
    assert db.session.scalar(select(func.count()).select_from(CashClosing).where(CashClosing.day == day)) == 1
    assert verify_relay(relay.id) is None


def test_a_future_day_cannot_be_closed(shop):
    _, manager, *_ = shop
    with pytest.raises(Refused, match="à venir"):
        close_day(manager, clock.today() + timedelta(days=1), nothing_counted(), {}, "")


def test_only_a_manager_closes(shop):
    _, _, volunteer, *_ = shop
    with pytest.raises(Refused, match="référent"):
        close_day(volunteer, clock.today(), nothing_counted(), {}, "")


def test_days_are_closed_in_order_and_the_grand_total_runs(shop):
    relay, manager, volunteer, person, p = shop
    today = clock.today()
    days = [today - timedelta(days=n) for n in (5, 3, 2)]
    for day, amount in zip(days, (1500, 1000, 500)):
        sell(volunteer, person, p["sim"], [PaymentRequest("cash", amount)], amount // 500, at=utc(day, 11))
    assert unclosed_days(relay.id) == days
    with pytest.raises(Refused, match=f"Clôturez d'abord la journée du {days[0]:%d/%m/%Y}"):
        close_day(manager, days[1], nothing_counted(cash=1000), {}, "")
    assert closing_problem(relay.id, days[1]) == f"Clôturez d'abord la journée du {days[0]:%d/%m/%Y}."
    first = close_day(manager, days[0], nothing_counted(cash=1500), {}, "")
    quiet = close_day(manager, today - timedelta(days=4), nothing_counted(), {}, "")  # no sale that day
    second = close_day(manager, days[1], nothing_counted(cash=1000), {}, "")
    with pytest.raises(Refused, match="plus récente"):
        close_day(manager, today - timedelta(days=6), nothing_counted(), {}, "")
    third = close_day(manager, days[2], nothing_counted(cash=500), {}, "")
    assert [c.grand_total_cents for c in (first, quiet, second, third)] == [1500, 1500, 2500, 3000]
    assert unclosed_days(relay.id) == []
    assert verify_relay(relay.id) is None


def test_altering_a_closing_is_named_by_the_ledger(shop, busy_day):
    relay, manager, *_ = shop
    day, *_ = busy_day
    close_day(manager, day - timedelta(days=1), nothing_counted(cash=500), {}, "")
    closing = close_day(manager, day, nothing_counted(cash=1500, card=500, cheque=1000), {}, "")
    assert verify_relay(relay.id) is None
    db.session.execute(update(CashClosing).where(CashClosing.id == closing.id).values(counted_cash_cents=1000))
    db.session.commit()
    problem = verify_relay(relay.id)
    assert f"(closing #{closing.id})" in problem and "modifiée après son enregistrement" in problem


def test_a_deleted_closing_is_named_by_the_ledger(shop):
    relay, manager, *_ = shop
    closing = close_day(manager, clock.today(), nothing_counted(), {}, "")
    db.session.delete(closing)
    db.session.commit()
    assert "(closing #" in verify_relay(relay.id) and "a disparu" in verify_relay(relay.id)


# --- pages and report ---------------------------------------------------------------------

@pytest.fixture
def as_manager(client, login, shop):
    assert login(shop[1]).status_code == 303
    return client


def test_the_list_offers_the_open_days_and_shows_the_closed_ones(as_manager, shop, busy_day):
    relay, manager, *_ = shop
    day, *_ = busy_day
    page = as_manager.get("/cash/")
    assert page.status_code == 200
    assert f'/cash/close?day={day.isoformat()}' in page.text
    assert f'/cash/close?day={(day - timedelta(days=1)).isoformat()}' in page.text
    assert "Aucune journée clôturée." in page.text
    close_day(manager, day - timedelta(days=1), nothing_counted(cash=400), {}, "erreur")
    page = as_manager.get("/cash/")
    assert f'/cash/close?day={(day - timedelta(days=1)).isoformat()}' not in page.text
    assert "-1,00\xa0€" in page.text and ">Caisse</a>" in page.text


def test_the_form_shows_the_expected_amounts_and_closes_the_day(as_manager, shop, busy_day):
    relay, manager, *_ = shop
    day, *_ = busy_day
    url = f"/cash/close?day={day.isoformat()}"
    warned = as_manager.get(url)
    assert warned.status_code == 200
    assert f"Clôturez d&#39;abord la journée du {day - timedelta(days=1):%d/%m/%Y}." in warned.text
    close_day(manager, day - timedelta(days=1), nothing_counted(cash=500), {}, "")
    page = as_manager.get(url)
    assert "Clôturez" not in page.text
    assert page.status_code == 200
    assert "Espèces — attendu : 15,00\xa0€" in page.text and "Chèque — attendu : 10,00\xa0€" in page.text
    assert "<strong>6</strong> tickets (dont 1 annulation)" in page.text

    typed = {"counted_cash": "15", "counted_card": "5,00", "counted_cheque": "10,00 €"}
    done = as_manager.post(url, data=typed)
    closing = db.session.scalar(select(CashClosing).where(CashClosing.day == day))
    assert done.status_code == 303 and done.headers["Location"].endswith(f"/cash/{closing.id}")
    assert (closing.counted_cash_cents, closing.counted_card_cents, closing.counted_cheque_cents) == (1500, 500, 1000)
    shown = as_manager.get(f"/cash/{closing.id}")
    assert "Journée du" in shown.text and "clôturée" in shown.text
    assert as_manager.get(url).status_code == 303  # a closed day sends to its closing


def test_a_day_of_refunds_closes_with_counted_equal_to_expected(as_manager, shop):
    """A void today of a cheque sale of an earlier day: today's cheques are expected at -5,00 €,
    and the manager can type what the form shows (no difference, no reason needed)."""
    relay, manager, volunteer, person, p = shop
    yesterday = clock.today() - timedelta(days=1)
    sale = sell(volunteer, person, p["sim"], [PaymentRequest("cheque", 500, reference="1234567")],
                at=utc(yesterday, 10))
    close_day(manager, yesterday, nothing_counted(cheque=500), {}, "")
    void_sale(manager, sale, "erreur", uuid.uuid4().hex)
    url = f"/cash/close?day={clock.today().isoformat()}"
    assert "Chèque — attendu : -5,00\xa0€" in as_manager.get(url).text
    done = as_manager.post(url, data={"counted_cash": "0", "counted_card": "0", "counted_cheque": "-5,00"})
    assert done.status_code == 303, done.text
    closing = db.session.scalar(select(CashClosing).where(CashClosing.day == clock.today()))
    assert (closing.counted_cheque_cents, closing.expected_cheque_cents, closing.difference_reason) == (-500, -500, "")


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
def test_the_form_fails_in_place_in_french(as_manager, typed, message):
    page = as_manager.post("/cash/close", data=typed)
    assert page.status_code == 422 and message in page.text
    assert db.session.scalar(select(func.count()).select_from(CashClosing)) == 0


def test_counting_notes_and_coins_gives_the_cash(as_manager, shop):
    relay, _, volunteer, person, p = shop
    sell(volunteer, person, p["sim"], [PaymentRequest("cash", 1500, 2000)], 3)
    counts = {"n1000": "1", "n200": "2", "n50": "2"}  # 10 € + 4 € + 1 € = 15 €
    computed = as_manager.post("/cash/close", data=counts | {"compute": "1"})
    assert computed.status_code == 200 and "Total des billets et pièces : <strong>15,00\xa0€</strong>" in computed.text
    assert "aucun" in computed.text  # no difference
    assert db.session.scalar(select(func.count()).select_from(CashClosing)) == 0
    done = as_manager.post("/cash/close", data=counts)
    assert done.status_code == 303
    closing = db.session.scalar(select(CashClosing))
    assert closing.counted_cash_cents == 1500 and closing.cash_detail == '{"1000": 1, "200": 2, "50": 2}'
    assert [(d["label"], d["count"]) for d in closing_context(closing)["cash_detail"]] == [
        ("10 €", 1), ("2 €", 2), ("0,50 €", 2)]


def test_the_form_as_an_htmx_fragment(as_manager, shop):
    invalid = as_manager.post("/cash/close", data={"counted_cash": "x"}, headers=PARTIAL)
    assert invalid.status_code == 422 and invalid.text.lstrip().startswith("<form")
    assert "<html" not in invalid.text and "Montant non valide" in invalid.text
    done = as_manager.post("/cash/close", data={"counted_cash": "0"}, headers=PARTIAL)
    closing = db.session.scalar(select(CashClosing))
    assert done.status_code == 204 and done.headers["HX-Redirect"] == f"/cash/{closing.id}"


def test_the_future_and_malformed_days_are_refused(as_manager):
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    assert as_manager.get(f"/cash/close?day={tomorrow}").status_code == 303
    assert as_manager.post(f"/cash/close?day={tomorrow}", data={"counted_cash": "0"}).status_code == 303
    assert as_manager.get("/cash/close?day=hier").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(CashClosing)) == 0


def test_the_report_pdf_and_its_html_twin(as_manager, shop, busy_day):
    relay, manager, *_ = shop
    day, first, last = busy_day
    close_day(manager, day - timedelta(days=1), nothing_counted(cash=500), {}, "")
    closing = close_day(manager, day, nothing_counted(cash=1450, card=500, cheque=1000), {}, "pièce perdue")
    response = as_manager.get(f"/cash/{closing.id}/report.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.headers["Cache-Control"] == "no-store"
    assert f'filename="cloture-{relay.code}-{day.isoformat()}.pdf"' in response.headers["Content-Disposition"]
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) == 1
    text = " ".join("\n".join(p.extract_text() for p in reader.pages).replace("\xa0", " ").split())
    mac = db.session.scalar(select(LedgerEntry.mac).where(LedgerEntry.kind == "closing",
                                                          LedgerEntry.ref_id == closing.id))
    for expected in [
        relay.name, "Clôture de caisse", f"{day.day}", "Espèces 15,00 € 14,50 € -0,50 €",
        "Carte bancaire 5,00 € 5,00 €",
        "Chèque 10,00 € 10,00 €", "Total 30,00 € 29,50 € -0,50 €", "Raison de l’écart : pièce perdue",
        "Tickets 6", f"Premier ticket {first.number}", f"Dernier ticket {last.number}",
        "Total de la journée 30,00 €", "Total cumulé depuis la première vente 35,00 €",
        "par Karim Benali", short_fingerprint(mac),
    ]:
        assert expected in text, expected
    twin = as_manager.get(f"/cash/{closing.id}/report")
    assert twin.status_code == 200 and "pièce perdue" in twin.text and last.number in twin.text
    assert_plain(closing_context(closing))


def test_only_the_relays_managers_see_the_till(client, login, shop, make_user):
    relay, manager, volunteer, *_ = shop
    closing = close_day(manager, clock.today(), nothing_counted(), {}, "")
    login(volunteer)
    for url in ("/cash/", "/cash/close", f"/cash/{closing.id}", f"/cash/{closing.id}/report.pdf"):
        assert client.get(url).status_code == 403, url
    client.post("/logout")
    login(make_user(Role.MANAGER))  # another relay's manager
    for url in (f"/cash/{closing.id}", f"/cash/{closing.id}/report.pdf", f"/cash/{closing.id}/report"):
        assert client.get(url).status_code == 404, url
    assert "Aucune journée clôturée." in client.get("/cash/").text
