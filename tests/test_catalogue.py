"""The catalogue: prices typed in euros, validation, offers scoped to the coordinator's territory, audit."""
import html
import re

import pytest
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.catalogue.forms import parse_price
from portal.catalogue.models import Product, ProductOffer
from portal.extensions import db
from portal.security import Role

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


def product_form(**overrides):
    data = {"code": "sim-prepayee", "name": "Carte SIM prépayée", "category": "sim", "price_cents": "5",
            "reference_cents": "15,00", "tracking": "iccid", "eligibility_required": "y",
            "limit_per_person": "", "active": "y", "relay_ids": []}
    return data | overrides


def errors(response) -> str:
    """The messages shown next to the fields."""
    return " ".join(html.unescape(e) for e in re.findall(r'<p id="[\w-]+-error" class="error">(.*?)</p>',
                                                        response.text))


def offers(product):
    return dict(db.session.execute(
        select(ProductOffer.relay_id, ProductOffer.low_stock_threshold).where(ProductOffer.product_id == product.id)
    ).all())


@pytest.fixture
def coordinator(make_user, make_relay, login):
    """A coordinator of a territory with two relays; logged in."""
    user = make_user(Role.COORDINATOR)
    make_relay(user.territory, name="CADA Gap")
    login(user)
    return user


# --- prices -------------------------------------------------------------------------------

@pytest.mark.parametrize("typed, cents", [
    ("5", 500), ("5,00", 500), ("5.50", 550), ("5,5", 550), (" 12,30 € ", 1230), ("0", 0), ("0,99", 99),
    ("1 250", 125_000), ("10000", 1_000_000),
])
def test_prices_typed_in_euros_become_cents(typed, cents):
    assert parse_price(typed) == cents


@pytest.mark.parametrize("typed, message", [
    ("-5", "Le prix ne peut pas être négatif."),
    ("-0,50", "Le prix ne peut pas être négatif."),
    ("5,123", "Deux chiffres au plus après la virgule."),
    ("cinq", "Montant non valide : écrivez par exemple 12,50."),
    ("5,5,5", "Montant non valide : écrivez par exemple 12,50."),
    ("1e3", "Montant non valide : écrivez par exemple 12,50."),
    ("10000,01", "Montant trop élevé (au plus 10000 €)."),
    ("99999", "Montant trop élevé (au plus 10000 €)."),
])
def test_wrong_prices_say_why(typed, message):
    with pytest.raises(ValueError) as error:
        parse_price(typed)
    assert str(error.value) == message


# --- creating and editing -----------------------------------------------------------------

def test_coordinator_creates_a_product_offered_by_their_relays(client, coordinator):
    relays = coordinator.territory.relays
    r = client.post("/catalogue/new", data=product_form(relay_ids=[r.id for r in relays], limit_per_person="2"))
    assert r.status_code == 303 and r.headers["Location"] == "/catalogue/"
    product = db.session.scalar(select(Product))
    assert product.code == "SIM-PREPAYEE"  # upper-cased
    assert (product.price_cents, product.reference_cents, product.limit_per_person) == (500, 1500, 2)
    assert product.tracking == "iccid" and product.eligibility_required and product.active
    assert offers(product) == {r.id: 5 for r in relays}
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "product.save"))
    assert event.subject == f"product:{product.id}" and event.actor_id == coordinator.id
    page = client.get("/catalogue/").text
    assert "Produit « Carte SIM prépayée » enregistré." in page
    assert "5,00\xa0€" in page and "15,00\xa0€" in page and "ICCID (carte SIM)" in page


def test_the_list_counts_only_the_relays_the_user_sees(client, coordinator, make_product, make_relay):
    elsewhere = make_relay()
    make_product([*coordinator.territory.relays, elsewhere], name="Recharge 10 €", price=1000)
    page = client.get("/catalogue/").text
    assert "Recharge 10 €" in page and "<td>2</td>" in page


@pytest.mark.parametrize("field, value, message", [
    ("code", "", "Saisissez un code."),
    ("code", "S", "De 2 à 20 lettres majuscules, chiffres ou tirets, sans espace ni accent."),
    ("code", "SIM PREPAYEE", "De 2 à 20 lettres majuscules, chiffres ou tirets, sans espace ni accent."),
    ("code", "-SIM", "De 2 à 20 lettres majuscules, chiffres ou tirets, sans espace ni accent."),
    ("code", "CARTE-SIM-PREPAYEE-20E", "De 2 à 20 lettres majuscules, chiffres ou tirets, sans espace ni accent."),
    ("code", "RÉCHARGE", "De 2 à 20 lettres majuscules, chiffres ou tirets, sans espace ni accent."),
    ("name", "", "Saisissez le nom du produit."),
    ("name", "n" * 121, "120 caractères au plus."),
    ("category", "drone", "N'est pas un choix valide."),
    ("price_cents", "", "Saisissez le prix solidaire (0 pour un produit gratuit)."),
    ("price_cents", "-1", "Le prix ne peut pas être négatif."),
    ("price_cents", "2,505", "Deux chiffres au plus après la virgule."),
    ("reference_cents", "quinze", "Montant non valide : écrivez par exemple 12,50."),
    ("reference_cents", "20000", "Montant trop élevé (au plus 10000 €)."),
    ("tracking", "rfid", "N'est pas un choix valide."),
    ("limit_per_person", "0", "Entre 1 et 1 000, ou laissez vide pour ne pas limiter."),
    ("limit_per_person", "un", "N'est pas un entier valide."),
])
def test_product_form_validation(client, coordinator, field, value, message):
    r = client.post("/catalogue/new", data=product_form(**{field: value}))
    assert r.status_code == 422
    assert errors(r) == message
    assert db.session.scalar(select(func.count()).select_from(Product)) == 0


def test_invalid_form_comes_back_as_its_fragment(client, coordinator):
    r = client.post("/catalogue/new", data=product_form(price_cents="-2"), headers=PARTIAL)
    assert r.status_code == 422
    assert r.text.lstrip().startswith("<form") and "<html" not in r.text
    assert "Le prix ne peut pas être négatif." in r.text
    assert 'value="-2"' in r.text  # the user's input is kept


def test_code_is_unique(client, coordinator, make_product):
    make_product(code="SIM-PREPAYEE")
    r = client.post("/catalogue/new", data=product_form(code="sim-prepayee"))
    assert r.status_code == 422 and "Ce code est déjà utilisé par un autre produit." in r.text


def test_editing_shows_prices_in_euros_and_deactivates_without_deleting(client, coordinator, make_product):
    product = make_product(code="TEL-A", name="Smartphone grade A", category="smartphone", price=4950,
                           reference=15900, tracking="imei")
    form = client.get(f"/catalogue/{product.id}/edit").text
    assert 'value="49,50"' in form and 'value="159,00"' in form
    r = client.post(f"/catalogue/{product.id}/edit", data=product_form(
        code="TEL-A", name="Smartphone grade A", category="smartphone", price_cents="49,50",
        reference_cents="159", tracking="imei", active=""))
    assert r.status_code == 303
    db.session.refresh(product)
    assert product.active is False and product.price_cents == 4950
    assert "Désactivé" in client.get("/catalogue/").text


def test_coordinator_cannot_offer_to_another_territory(client, coordinator, make_relay):
    elsewhere = make_relay(name="Relais d'ailleurs")
    r = client.post("/catalogue/new", data=product_form(relay_ids=[elsewhere.id]))
    assert r.status_code == 422
    assert "n'est pas un choix valide pour ce champ." in html.unescape(r.text)
    assert db.session.scalar(select(func.count()).select_from(ProductOffer)) == 0
    assert "Relais d&#39;ailleurs" not in client.get("/catalogue/new").text


def test_coordinator_leaves_other_territories_offers_untouched(client, coordinator, make_product, make_relay):
    ours = coordinator.territory.relays
    elsewhere = make_relay()
    product = make_product([ours[0], elsewhere], code="SIM-A")
    r = client.post(f"/catalogue/{product.id}/edit", data=product_form(code="SIM-A", relay_ids=[ours[1].id]))
    assert r.status_code == 303
    db.session.expire_all()
    assert set(offers(product)) == {ours[1].id, elsewhere.id}


def test_an_offer_is_withdrawn_only_from_an_empty_shelf(client, coordinator, make_product):
    relay = coordinator.territory.relays[0]
    product = make_product([relay], stock=3, code="SIM-A", tracking="none")
    r = client.post(f"/catalogue/{product.id}/edit", data=product_form(code="SIM-A", tracking="none", relay_ids=[]))
    assert r.status_code == 422
    assert f"Encore 3 en stock à {relay.name}" in r.text
    assert set(offers(product)) == {relay.id}


def test_tracking_is_fixed_once_stock_has_moved(client, coordinator, make_product):
    relay = coordinator.territory.relays[0]
    product = make_product([relay], stock=3, code="SIM-A", tracking="none")
    r = client.post(f"/catalogue/{product.id}/edit", data=product_form(code="SIM-A", relay_ids=[relay.id]))
    assert r.status_code == 422
    assert "Le suivi ne peut plus changer" in r.text


@pytest.mark.parametrize("role", [Role.VOLUNTEER, Role.MANAGER])
def test_relay_staff_cannot_manage_the_catalogue(client, login, make_user, make_product, role):
    product = make_product()
    login(make_user(role))
    assert client.get("/catalogue/").status_code == 403
    assert client.post("/catalogue/new", data=product_form()).status_code == 403
    assert client.post(f"/catalogue/{product.id}/edit", data=product_form(name="Autre")).status_code == 403
    assert db.session.scalar(select(func.count()).select_from(Product)) == 1


def test_admin_offers_to_relays_of_every_territory(client, login, make_user, make_relay):
    a, b = make_relay(), make_relay()
    login(make_user(Role.ADMIN))
    assert client.post("/catalogue/new", data=product_form(relay_ids=[a.id, b.id])).status_code == 303
    assert set(offers(db.session.scalar(select(Product)))) == {a.id, b.id}
