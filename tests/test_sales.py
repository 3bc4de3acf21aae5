"""The sale screen (plain form first, htmx fragment second), the sale page and voids."""
import os
import re
import sqlite3
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


# The screen's buttons: each posts the whole form to its own view (formaction, hx-post).
ADD, REMOVE, RECALCULATE, RECORD = "/sales/new/lines", "/sales/new/remove", "/sales/new/recalculate", "/sales/new"


def test_a_sale_without_javascript_add_remove_record(client, counter):
    volunteer, person, sim = counter
    page = client.get(f"/sales/new?beneficiary={person.id}").text
    assert "Олена Шевченко" in page and "Carte SIM — 5,00\xa0€ (10 en stock)" in page
    assert f'formaction="{ADD}"' in page and f'action="{RECORD}"' in page
    base = {"token": token_of(page), "beneficiary_id": person.id}
    added = client.post(ADD, data=base | {"add_product": sim.id, "add_quantity": "3"})
    assert added.status_code == 200 and "<html" in added.text
    assert 'name="line-0-product" value="%d"' % sim.id in added.text and "15,00\xa0€" in added.text
    assert 'name="pay_cash" value="15,00"' in added.text  # cash for the total, until another split is typed
    lines = {"line-0-product": sim.id, "line-0-quantity": "3", "line-1-product": sim.id, "line-1-quantity": "1"}
    removed = client.post(REMOVE, data=base | lines | {"line": "1"})
    assert removed.status_code == 200 and "line-1-product" not in removed.text and "line-0-product" in removed.text
    recorded = client.post(RECORD, data=base | lines | {"pay_cash": "20,00", "cash_given": "50"})
    sale = db.session.scalar(select(Sale))
    assert recorded.status_code == 303 and recorded.headers["Location"] == f"/sales/{sale.id}"
    assert sale.total_cents == 2000 and sale.change_cents == 3000 and stock_level(volunteer.relay_id, sim.id) == 6
    page = client.get(recorded.headers["Location"]).text
    assert f"Vente {sale.number} enregistrée." in page
    assert sale.number in page and "Rendu : 30,00\xa0€" in page and "Imprimer le reçu" in page
    assert "enregistrée." not in client.get(recorded.headers["Location"]).text  # reloaded: the banner is gone


def test_submitting_twice_gives_one_sale_and_says_so(client, counter):
    """Back, then "Enregistrer" again (the same one-time token): the sale already recorded."""
    _, person, sim = counter
    data = {"token": "same-token-123", "beneficiary_id": person.id, "line-0-product": sim.id,
            "line-0-quantity": "1", "pay_cash": "5"}
    first = client.post(RECORD, data=data)
    number = db.session.scalar(select(Sale.number))
    assert f"Vente {number} enregistrée." in client.get(first.headers["Location"]).text
    again = client.post(RECORD, data=data)
    assert again.headers["Location"] == first.headers["Location"]
    page = client.get(again.headers["Location"]).text
    assert f"Cette vente était déjà enregistrée (n° {number})." in page and f"Vente {number} enregistrée." not in page
    retried = client.post(RECORD, data=data, headers=PARTIAL)  # e.g. the retry after a lost answer
    assert retried.status_code == 204 and retried.headers["HX-Redirect"] == first.headers["Location"]
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 1


@pytest.mark.parametrize("url, form", [
    (ADD, {"add_product": "SIM"}),
    (REMOVE, {"line": "1", "line-1-product": "SIM"}),
    (RECALCULATE, {"cash_given": "20"}),
    (RECORD, {"pay_cash": "abc"}),  # refused: the block comes back, 422
])
def test_each_view_answers_htmx_with_the_sale_block(client, counter, url, form):
    _, person, sim = counter
    data = {"token": "t", "beneficiary_id": person.id, "line-0-product": sim.id, "pay_cash": "5"}
    data |= {name: sim.id if value == "SIM" else value for name, value in form.items()}
    page = client.post(url, data=data)
    fragment = client.post(url, data=data, headers=PARTIAL)
    assert page.status_code == fragment.status_code == (422 if url == RECORD else 200)
    assert "<html" in page.text and '<form method="post" action="/sales/new" id="sale"' in page.text
    assert fragment.text.lstrip().startswith('<form method="post" action="/sales/new" id="sale"')
    assert "<html" not in fragment.text and "Carte SIM" in fragment.text
    assert fragment.headers["Vary"] == "HX-Request, Cookie" or "HX-Request" in fragment.headers["Vary"]


@pytest.mark.skipif(bool(os.environ.get("TEST_DATABASE_URL")), reason="SQLite's one write lock")
def test_the_screen_answers_while_another_sale_is_being_written(app, client, counter):
    # Adding a line and recalculating write nothing: they don't queue behind another writer (a
    # sale being recorded, a closing) for SQLite's write lock, as every other POST does.
    _, person, sim = counter
    other = sqlite3.connect(db.engine.url.database, isolation_level=None)
    other.execute("PRAGMA busy_timeout = 0")
    other.execute("BEGIN IMMEDIATE")
    try:
        draft = {"token": "t", "beneficiary_id": person.id, "line-0-product": sim.id, "pay_cash": "5,00"}
        added = client.post(ADD, data=draft | {"add_product": sim.id}, headers=PARTIAL)
        assert added.status_code == 200 and added.text.count("Carte SIM") >= 2
        assert client.post(RECALCULATE, data=draft, headers=PARTIAL).status_code == 200
        assert client.post(REMOVE, data=draft | {"line": "0"}, headers=PARTIAL).status_code == 200
    finally:
        other.execute("ROLLBACK")
        other.close()


def test_change_is_shown_when_cash_is_given(client, counter):
    _, person, sim = counter
    r = client.post(RECALCULATE, data={"token": "t", "beneficiary_id": person.id, "line-0-product": sim.id,
                                       "pay_cash": "5,00", "cash_given": "20"}, headers=PARTIAL)
    assert "À rendre : <strong>15,00\xa0€</strong>" in r.text


def test_a_part_cash_amount_is_kept(client, counter):
    """2 € in cash and 3 € by card: adding a line or recalculating never puts the total back in cash."""
    _, person, sim = counter
    data = {"token": "t", "beneficiary_id": person.id, "line-0-product": sim.id, "cash_filled": "5,00",
            "pay_cash": "2", "pay_card": "3"}
    for url, extra in ((RECALCULATE, {}), (ADD, {"add_product": sim.id}), (ADD, {})):
        r = client.post(url, data=data | extra)
        assert 'name="pay_cash" value="2"' in r.text and 'name="pay_card" value="3"' in r.text
    only_cash = client.post(ADD, data=data | {"pay_cash": "2", "pay_card": "", "add_product": sim.id})
    assert 'name="pay_cash" value="2"' in only_cash.text  # typed by the volunteer: kept too
    filled = client.post(ADD, data=data | {"pay_cash": "5,00", "pay_card": "", "add_product": sim.id})
    assert 'name="pay_cash" value="10,00"' in filled.text  # the screen's own amount follows the total


def test_scanning_a_serial_adds_the_device(client, counter, make_product):
    volunteer, person, _ = counter
    phone = make_product([volunteer.relay], code="TEL-A", name="Smartphone reconditionné", category="smartphone",
                         price=4000, reference=15000, tracking="imei")
    db.session.add(SerialItem(product_id=phone.id, relay_id=volunteer.relay_id, serial="490154203237518", grade="A"))
    from portal.stock.operations import move_stock
    move_stock(volunteer.relay_id, phone.id, 1, "delivery", None, "BL")
    db.session.commit()
    r = client.post(ADD, data={"token": "t", "beneficiary_id": person.id, "add_code": "490154203237518"})
    assert 'name="line-0-serial" value="490154203237518"' in r.text and 'class="error"' not in r.text
    r = client.post(RECORD, data={"token": "t", "beneficiary_id": person.id, "line-0-product": phone.id,
                                  "line-0-serial": "490154203237518", "pay_card": "40"})
    assert r.status_code == 303
    item = db.session.scalar(select(SerialItem))
    assert item.status == "sold" and db.session.scalar(select(Sale)).lines[0].grade == "A"


def test_enter_in_an_amount_field_recalculates(client, counter):
    """Enter in a field submits with the form's first button, "Ajouter": with nothing to add, the
    screen recalculates (the change to give back) and says nothing about a product."""
    _, person, sim = counter
    r = client.post(ADD, data={"token": "t", "beneficiary_id": person.id, "line-0-product": sim.id,
                               "pay_cash": "5", "cash_given": "20"})
    assert r.status_code == 200 and "Choisissez un produit." not in r.text
    assert "À rendre : <strong>15,00\xa0€</strong>" in r.text


@pytest.mark.parametrize("url, form, field, message", [
    (ADD, {"add_product": "999999"}, "add", "Choisissez un produit."),
    (ADD, {"add_code": "NOPE"}, "add", "Aucun produit ni numéro de série « NOPE » en stock ici."),
    (RECORD, {"pay_cash": "abc"}, "pay_cash", "Montant non valide : écrivez par exemple 12,50."),
    (RECORD, {"pay_cash": "4"}, "payments", "Les paiements (4,00 €) ne correspondent pas au total (5,00 €)."),
    (RECORD, {"pay_cash": "0", "pay_cheque": "5"}, "reference_cheque", "Chèque : indiquez « Numéro du chèque »."),
    (RECORD, {"pay_cash": "5", "cash_given": "2"}, "cash_given",
     "La somme donnée en espèces est inférieure au montant dû."),
    (RECORD, {"beneficiary_id": ""}, "beneficiary_id",
     "Carte SIM est réservé aux personnes éligibles : choisissez la personne."),
])
def test_refusals_are_shown_next_to_their_field(client, counter, url, form, field, message):
    _, person, sim = counter
    data = {"token": "t", "beneficiary_id": person.id, "line-0-product": sim.id, "pay_cash": "5"} | form
    r = client.post(url, data=data)
    assert r.status_code == 422
    assert f'id="{field}-error" class="error" role="alert">{message}' in r.text.replace("&#39;", "'")
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 0


@pytest.mark.parametrize("typed", ["-1", "2,5", "abc", "0", "101", "²"])
def test_a_quantity_that_is_not_a_whole_number_is_said_never_changed(client, counter, typed):
    _, person, sim = counter
    message = "La quantité doit être un nombre entier compris entre 1 et 100."
    base = {"token": "t", "beneficiary_id": person.id}
    added = client.post(ADD, data=base | {"add_product": sim.id, "add_quantity": typed})
    assert added.status_code == 422 and "line-0-product" not in added.text
    assert f'name="add_quantity" value="{typed}"' in added.text
    assert f'<p id="add_quantity-error" class="error" role="alert">{message}</p>' in added.text
    for url in (RECALCULATE, RECORD):
        r = client.post(url, data=base | {"line-0-product": sim.id, "line-0-quantity": typed, "pay_cash": "5"})
        assert r.status_code == 422, url
        assert f'name="line-0-quantity" value="{typed}"' in r.text
        assert f'<p id="line-0-quantity-error" class="error" role="alert">{message}</p>' in r.text
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 0


def shown_then_refused(client, shown_on, data: dict, field: str, message: str):
    """The screen shows `message` next to `field` as soon as it knows (`shown_on`); "Enregistrer"
    then refuses the sale with the very same words, in the same place."""
    escaped = message.replace("'", "&#39;")
    note = f'<p id="{field}-error" class="error" role="alert">{escaped}</p>'
    assert note in shown_on.text, shown_on.text
    refused = client.post(RECORD, data=data)
    assert refused.status_code == 422 and note in refused.text
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 0


@pytest.mark.parametrize("until, said", [(date(2020, 1, 1), "a expiré le 01/01/2020"), (None, "a expiré")])
def test_expired_or_unverified_eligibility_is_said_when_the_person_is_chosen(client, counter, until, said):
    _, person, sim = counter
    person.eligibility_until = until
    db.session.commit()
    chosen = client.get(f"/sales/new?beneficiary={person.id}")
    message = (f"L'éligibilité de Олена Шевченко {said} ou n'a pas été vérifiée : "
               "renouvelez-la sur sa fiche avant la vente.")
    shown_then_refused(client, chosen, {"token": "t", "beneficiary_id": person.id, "line-0-product": sim.id,
                                        "pay_cash": "5"}, "beneficiary_id", message)


def test_the_per_person_limit_is_said_when_the_line_is_added(client, counter, make_product):
    volunteer, person, _ = counter
    free = make_product([volunteer.relay], stock=5, name="SIM d'urgence", category="free_sim", price=0,
                        reference=1000, limit_per_person=1)
    assert client.post(RECORD, data={"token": "first", "beneficiary_id": person.id,
                                     "line-0-product": free.id}).status_code == 303
    base = {"token": "t", "beneficiary_id": person.id}
    added = client.post(ADD, data=base | {"add_product": free.id})
    message = ("SIM d'urgence : limite de 1 par personne (déjà 1). "
               "Un·e référent·e peut lever cette limite en indiquant un motif.")
    escaped = message.replace("'", "&#39;")
    assert added.status_code == 200 and f'role="alert">{escaped}</p>' in added.text
    refused = client.post(RECORD, data=base | {"line-0-product": free.id})
    assert refused.status_code == 422 and f'role="alert">{escaped}</p>' in refused.text
    assert db.session.scalar(select(func.count()).select_from(Sale)) == 1


def test_the_recharge_cap_says_what_remains_this_month(client, counter, make_product):
    volunteer, person, _ = counter
    recharge = make_product([volunteer.relay], stock=50, name="Recharge 10 €", category="recharge", price=1000,
                            reference=1000)
    assert client.post(RECORD, data={"token": "earlier", "beneficiary_id": person.id, "line-0-product": recharge.id,
                                     "line-0-quantity": "2", "pay_cash": "20"}).status_code == 303
    base = {"token": "t", "beneficiary_id": person.id}
    added = client.post(ADD, data=base | {"add_product": recharge.id, "add_quantity": "2"})
    message = ("Recharges plafonnées à 30,00 € par personne et par mois : déjà 20,00 €, reste 10,00 € ce mois-ci. "
               "Un·e référent·e peut lever cette limite en indiquant un motif.")
    assert f'role="alert">{message}</p>' in added.text
    refused = client.post(RECORD, data=base | {"line-0-product": recharge.id, "line-0-quantity": "2",
                                               "pay_cash": "20"})
    assert refused.status_code == 422 and f'role="alert">{message}</p>' in refused.text


def test_missing_stock_is_said_when_the_line_is_added(client, counter):
    _, person, sim = counter
    base = {"token": "t", "beneficiary_id": person.id}
    added = client.post(ADD, data=base | {"add_product": sim.id, "add_quantity": "11"})
    assert 'name="line-0-quantity" value="11"' in added.text
    shown_then_refused(client, added, base | {"line-0-product": sim.id, "line-0-quantity": "11", "pay_cash": "55"},
                       "line-0-quantity", "Stock insuffisant : Carte SIM.")


@pytest.mark.parametrize("tracking, serial, problem", [
    ("imei", "49015420323751", "un IMEI compte 15 chiffres."),
    ("imei", "490154203237519", "chiffre de contrôle IMEI incorrect."),
    ("iccid", "8933150319010000001", "chiffre de contrôle ICCID incorrect."),
    ("iccid", "123", "un ICCID compte de 18 à 22 chiffres."),
])
def test_a_wrong_serial_number_is_said_when_the_line_is_added(client, counter, make_product, tracking, serial,
                                                               problem):
    """The same check as at deliveries (stock.forms.serial_problem)."""
    volunteer, person, _ = counter
    device = make_product([volunteer.relay], stock=1, name="Appareil", category="smartphone", price=4000,
                          reference=15000, tracking=tracking)
    base = {"token": "t", "beneficiary_id": person.id}
    added = client.post(ADD, data=base | {"add_product": device.id, "add_serial": serial})
    shown_then_refused(client, added, base | {"line-0-product": device.id, "line-0-serial": serial, "pay_card": "40"},
                       "line-0-serial", f"Appareil, n° {serial} : {problem}")


def test_person_search_on_the_sale_screen(client, counter):
    _, person, _ = counter
    fragment = client.get("/sales/new?q=олена", headers=PARTIAL)
    assert fragment.text.lstrip().startswith('<div id="people">')
    assert f"/sales/new?beneficiary={person.id}" in fragment.text


def test_manager_voids_a_sale_and_the_profile_shows_it(client, counter, make_user, login):
    volunteer, person, sim = counter
    client.post(RECORD, data={"token": "t", "beneficiary_id": person.id, "line-0-product": sim.id, "pay_cash": "5"})
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
    r = client.post(ADD, data={"token": "t", "beneficiary_id": person.id, "add_code": "49 0154 2032 3751-8"})
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
    data = {"token": token_of(page), "beneficiary_id": person.id, "line-0-product": sim.id, "pay_transfer": "5"}
    refused = client.post(RECORD, data=data)
    assert refused.status_code == 422
    assert '<p id="reference_transfer-error" class="error" role="alert">Virement : indiquez « Référence du virement ».</p>' in refused.text
    recorded = client.post(RECORD, data=data | {"reference_transfer": "VIR-2026-118"})
    assert recorded.status_code == 303
    payment = db.session.scalar(select(Payment))
    assert (payment.method, payment.amount_cents, payment.reference) == ("transfer", 500, "VIR-2026-118")
    assert "Virement : 5,00\xa0€ — VIR-2026-118" in client.get(recorded.headers["Location"]).text


def test_a_voucher_names_who_pays(client, counter):
    _, person, sim = counter
    page = client.get(f"/sales/new?beneficiary={person.id}").text
    assert '<label for="pay_voucher">Prise en charge (€)</label>' in page
    recorded = client.post(RECORD, data={"token": token_of(page), "beneficiary_id": person.id,
                                         "line-0-product": sim.id, "pay_voucher": "5", "reference_voucher": "CCAS de Gap"})
    assert recorded.status_code == 303
    assert "Prise en charge : 5,00\xa0€ — CCAS de Gap" in client.get(recorded.headers["Location"]).text


def test_removing_a_line_keeps_what_was_typed_on_the_others(client, counter, make_product):
    volunteer, person, sim = counter
    case = make_product([volunteer.relay], stock=5, name="Coque", category="accessory", price=300,
                        eligibility_required=False)
    r = client.post(REMOVE, data={"token": "t", "beneficiary_id": person.id, "line": "0",
                                  "line-0-product": sim.id, "line-0-quantity": "abc",
                                  "line-1-product": case.id, "line-1-quantity": "2,5"})
    assert r.status_code == 422 and 'name="line-1-product"' not in r.text
    assert f'name="line-0-product" value="{case.id}"' in r.text and 'name="line-0-quantity" value="2,5"' in r.text
    assert '<p id="line-0-quantity-error" class="error" role="alert">La quantité doit être' in r.text
