"""The sale screen (plain form first, htmx fragment second), the sale page and voids."""
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from portal import clock
from portal.extensions import db
from portal.sales.models import Sale
from portal.security import Role
from portal.stock.models import SerialItem
from portal.stock.operations import stock_level

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


@pytest.fixture
def counter(make_user, make_product, make_beneficiary, login):
    """A volunteer logged in at a relay with a SIM (10 in stock) and an eligible person."""
    volunteer = make_user(Role.VOLUNTEER)
    person = make_beneficiary(volunteer.relay, "Олена", "Шевченко", eligible_on=clock.today())
    sim = make_product([volunteer.relay], stock=10, code="SIM5", name="Carte SIM", price=500, reference=1000)
    login(volunteer)
    return volunteer, person, sim


def token_of(page: str) -> str:
    return re.search(r'name="token" value="([^"]+)"', page).group(1)


def test_a_sale_without_javascript_add_remove_record(client, counter):
    volunteer, person, sim = counter
    page = client.get(f"/sales/new?beneficiary={person.id}").text
    assert "Олена Шевченко" in page and "Carte SIM — 5,00\xa0€ (10 en stock)" in page
    base = {"token": token_of(page), "beneficiary_id": person.id}
    added = client.post("/sales/new", data=base | {"action": "add", "add_product": sim.id, "add_quantity": "3"})
    assert added.status_code == 200
    assert 'name="line-0-product" value="%d"' % sim.id in added.text and "15,00\xa0€" in added.text
    assert 'name="pay_cash" value="15,00"' in added.text
    lines = {"line-0-product": sim.id, "line-0-quantity": "3", "line-1-product": sim.id, "line-1-quantity": "1"}
    removed = client.post("/sales/new", data=base | lines | {"action": "remove-1"})
    assert "line-1-product" not in removed.text
    recorded = client.post("/sales/new", data=base | lines | {"action": "record", "pay_cash": "20,00", "cash_given": "50"})
    sale = db.session.scalar(select(Sale))
    assert recorded.status_code == 303 and recorded.headers["Location"] == f"/sales/{sale.id}"
    assert sale.total_cents == 2000 and sale.change_cents == 3000 and stock_level(volunteer.relay_id, sim.id) == 6
    page = client.get(recorded.headers["Location"]).text
    assert sale.number in page and "Rendu : 30,00\xa0€" in page and "Imprimer le reçu" in page


def test_submitting_twice_gives_one_sale(client, counter):
    _, person, sim = counter
    data = {"token": "same-token-123", "beneficiary_id": person.id, "action": "record",
            "line-0-product": sim.id, "line-0-quantity": "1", "pay_cash": "5"}
    first = client.post("/sales/new", data=data)
    again = client.post("/sales/new", data=data, headers=PARTIAL)  # e.g. the retry after a lost answer
    assert again.status_code == 204 and again.headers["HX-Redirect"] == first.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 1


def test_adding_a_line_with_htmx_returns_the_form_fragment(client, counter):
    _, person, sim = counter
    r = client.post("/sales/new", data={"token": "t", "beneficiary_id": person.id, "action": "add",
                                        "add_product": sim.id}, headers=PARTIAL)
    assert r.status_code == 200 and r.text.lstrip().startswith('<form method="post" action="/sales/new" id="sale"')
    assert "<html" not in r.text and "5,00\xa0€" in r.text


def test_change_is_shown_when_cash_is_given(client, counter):
    _, person, sim = counter
    r = client.post("/sales/new", data={"token": "t", "beneficiary_id": person.id, "action": "update",
                                        "line-0-product": sim.id, "pay_cash": "5,00", "cash_given": "20"},
                    headers=PARTIAL)
    assert "À rendre : <strong>15,00\xa0€</strong>" in r.text


def test_scanning_a_serial_adds_the_device(client, counter, make_product):
    volunteer, person, _ = counter
    phone = make_product([volunteer.relay], code="TEL-A", name="Smartphone reconditionné", category="smartphone",
                         price=4000, reference=15000, tracking="imei")
    db.session.add(SerialItem(product_id=phone.id, relay_id=volunteer.relay_id, serial="490154203237518", grade="A"))
    from portal.stock.operations import move_stock
    move_stock(volunteer.relay_id, phone.id, 1, "delivery", None, "BL")
    db.session.commit()
    r = client.post("/sales/new", data={"token": "t", "beneficiary_id": person.id, "action": "add",
                                        "add_code": "490154203237518"})
    assert 'name="line-0-serial" value="490154203237518"' in r.text
    r = client.post("/sales/new", data={"token": "t", "beneficiary_id": person.id, "action": "record",
                                        "line-0-product": phone.id, "line-0-serial": "490154203237518",
                                        "pay_card": "40"})
    assert r.status_code == 303
    item = db.session.scalar(select(SerialItem))
    assert item.status == "sold" and db.session.scalar(select(Sale)).lines[0].grade == "A"


def test_enter_in_an_amount_field_recalculates(client, counter):
    """Enter in a field submits with the form's first button, "Ajouter": with nothing to add, the
    screen recalculates (the change to give back) and says nothing about a product."""
    _, person, sim = counter
    r = client.post("/sales/new", data={"action": "add", "token": "t", "beneficiary_id": person.id,
                                        "line-0-product": sim.id, "pay_cash": "5", "cash_given": "20"})
    assert r.status_code == 200 and "Choisissez un produit." not in r.text
    assert "À rendre : <strong>15,00\xa0€</strong>" in r.text


@pytest.mark.parametrize("form, message", [
    ({"action": "add", "add_product": "999999"}, "Choisissez un produit."),
    ({"action": "add", "add_code": "NOPE"}, "Aucun produit ni numéro de série « NOPE » en stock ici."),
    ({"action": "add", "add_product": "SIM", "add_quantity": "0"}, "La quantité doit être comprise entre 1 et 100."),
    ({"action": "record", "pay_cash": "abc"}, "Montant non valide"),
    ({"action": "record", "pay_cash": "4"}, "ne correspondent pas au total"),
    ({"action": "record", "pay_cash": "0", "pay_cheque": "5"}, "Chèque : indiquez « Numéro du chèque »."),
    ({"action": "record", "beneficiary_id": ""}, "réservé aux personnes éligibles"),
])
def test_refusals_are_shown_in_place(client, counter, form, message):
    _, person, sim = counter
    data = {"token": "t", "beneficiary_id": person.id, "line-0-product": sim.id, "pay_cash": "5"} | form
    if data.get("add_product") == "SIM":
        data["add_product"] = sim.id
    r = client.post("/sales/new", data=data)
    assert r.status_code == 422
    assert message.replace("'", "&#39;") in r.text
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 0


def test_expired_eligibility_blocks_the_sale(client, counter):
    _, person, sim = counter
    person.eligibility_until = date(2020, 1, 1)
    db.session.commit()
    r = client.post("/sales/new", data={"token": "t", "beneficiary_id": person.id, "action": "record",
                                        "line-0-product": sim.id, "pay_cash": "5"})
    assert r.status_code == 422 and "a expiré le 01/01/2020" in r.text


def test_person_search_on_the_sale_screen(client, counter):
    _, person, _ = counter
    fragment = client.get("/sales/new?q=олена", headers=PARTIAL)
    assert fragment.text.lstrip().startswith('<div id="people">')
    assert f"/sales/new?beneficiary={person.id}" in fragment.text


def test_manager_voids_a_sale_and_the_profile_shows_it(client, counter, make_user, login):
    volunteer, person, sim = counter
    client.post("/sales/new", data={"token": "t", "beneficiary_id": person.id, "action": "record",
                                    "line-0-product": sim.id, "pay_cash": "5"})
    sale = db.session.scalar(select(Sale))
    assert client.get(f"/sales/{sale.id}/void").status_code == 403
    client.post("/logout")
    login(make_user(Role.MANAGER, relay=volunteer.relay))
    r = client.post(f"/sales/{sale.id}/void", data={"reason": "", "token": "v"})
    assert r.status_code == 422 and "Indiquez le motif" in r.text
    r = client.post(f"/sales/{sale.id}/void", data={"reason": "erreur de produit", "token": "v"})
    assert r.status_code == 303
    assert "ANNULÉE" in client.get(f"/sales/{sale.id}").text
    assert stock_level(volunteer.relay_id, sim.id) == 10
    profile = client.get(f"/beneficiaries/{person.id}").text
    assert sale.number in profile and "annulée" in profile
    assert client.get(f"/sales/{sale.id}/void").status_code == 404  # nothing left to void


def test_a_serial_typed_with_spaces_is_found(client, counter, make_product):
    volunteer, person, _ = counter
    phone = make_product([volunteer.relay], code="TEL-B", name="Smartphone", category="smartphone",
                         price=4000, reference=15000, tracking="imei")
    db.session.add(SerialItem(product_id=phone.id, relay_id=volunteer.relay_id, serial="490154203237518"))
    db.session.commit()
    r = client.post("/sales/new", data={"token": "t", "beneficiary_id": person.id, "action": "add",
                                        "add_code": "49 0154 2032 3751-8"})
    assert 'name="line-0-serial" value="490154203237518"' in r.text


def test_a_payment_method_added_to_the_list_is_offered_and_recorded(client, counter, monkeypatch):
    """Adding a payment method is one change to one list (portal.payments.METHODS)."""
    from portal import payments
    from portal.sales.models import Payment

    transfer = payments.PaymentMethod("transfer", "Virement", reference="Référence du virement")
    monkeypatch.setattr(payments, "METHODS", payments.METHODS + (transfer,))
    _, person, sim = counter
    page = client.get(f"/sales/new?beneficiary={person.id}").text
    assert '<label for="pay_transfer">Virement (€)</label>' in page
    assert '<label for="reference_transfer">Référence du virement</label>' in page
    data = {"token": token_of(page), "beneficiary_id": person.id, "action": "record", "line-0-product": sim.id,
            "pay_transfer": "5"}
    refused = client.post("/sales/new", data=data)
    assert refused.status_code == 422
    assert '<p id="reference_transfer-error" class="error">Virement : indiquez « Référence du virement ».</p>' in refused.text
    recorded = client.post("/sales/new", data=data | {"reference_transfer": "VIR-2026-118"})
    assert recorded.status_code == 303
    payment = db.session.scalar(select(Payment))
    assert (payment.method, payment.amount_cents, payment.reference) == ("transfer", 500, "VIR-2026-118")
    assert "Virement : 5,00\xa0€ — VIR-2026-118" in client.get(recorded.headers["Location"]).text


def test_a_voucher_names_who_pays(client, counter):
    _, person, sim = counter
    page = client.get(f"/sales/new?beneficiary={person.id}").text
    assert '<label for="pay_voucher">Prise en charge (€)</label>' in page
    recorded = client.post("/sales/new", data={"token": token_of(page), "beneficiary_id": person.id,
                                               "action": "record", "line-0-product": sim.id, "pay_voucher": "5",
                                               "reference_voucher": "CCAS de Gap"})
    assert recorded.status_code == 303
    assert "Prise en charge : 5,00\xa0€ — CCAS de Gap" in client.get(recorded.headers["Location"]).text
