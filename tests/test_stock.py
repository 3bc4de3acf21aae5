"""Stock: levels and movements in scope, deliveries of scanned serial numbers, counts, transfers
all or nothing, thresholds — and the level always equal to the sum of the movements."""
import html
import re

import pytest
from sqlalchemy import func, select
from stdnum import luhn

from portal.audit.models import AuditEvent
from portal.catalogue.models import ProductOffer
from portal.extensions import db
from portal.security import Role
from portal.stock import operations
from portal.stock.forms import read_serials, serial_problem
from portal.stock.models import SerialItem, StockLevel, StockMovement
from portal.stock.operations import stock_level

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}


def with_check_digit(body: str) -> str:
    return body + luhn.calc_check_digit(body)


def wrong_check_digit(body: str) -> str:
    return body + str((int(luhn.calc_check_digit(body)) + 1) % 10)


ICCIDS = [with_check_digit(f"893315031987654{n:03d}") for n in range(1, 6)]  # 19 digits
IMEIS = [with_check_digit(f"35417803685{n:03d}") for n in range(1, 4)]  # 15 digits
BAD_ICCID = wrong_check_digit("893315031987654321")
BAD_IMEI = wrong_check_digit("35417803685978")


def errors(response) -> str:
    """The messages shown next to the fields."""
    return " ".join(html.unescape(e) for e in re.findall(r'<p id="[\w-]+-error" class="error">(.*?)</p>',
                                                        response.text))


def assert_levels_match_movements():
    """The stored level of every relay and product equals the sum of its movements."""
    sums = {(relay_id, product_id): total for relay_id, product_id, total in db.session.execute(
        select(StockMovement.relay_id, StockMovement.product_id, func.sum(StockMovement.quantity))
        .group_by(StockMovement.relay_id, StockMovement.product_id))}
    levels = {(lv.relay_id, lv.product_id): lv.quantity for lv in db.session.scalars(select(StockLevel))}
    assert levels == sums


@pytest.fixture
def territory(make_user, make_relay):
    """A coordinator, two relays of their territory (Gap, Briançon) and a relay of another territory."""
    coordinator = make_user(Role.COORDINATOR, display_name="Coordination")
    gap = make_relay(coordinator.territory, name="Secours Populaire Gap", code="SPFGAP")
    briancon = make_relay(coordinator.territory, name="CADA Briançon", code="CADABRI")
    elsewhere = make_relay(name="Relais d'un autre territoire", code="AILLEURS")
    return coordinator, gap, briancon, elsewhere


@pytest.fixture
def as_coordinator(client, login, territory):
    login(territory[0])
    return territory


def delivery(relay, product, **overrides):
    return {"relay_id": relay.id, "product_id": product.id, "note": "BL-2026-0042", "quantity": "",
            "serials": "", "grade": ""} | overrides


# --- serial numbers -----------------------------------------------------------------------

@pytest.mark.parametrize("tracking, serial, problem", [
    ("iccid", ICCIDS[0], None),
    ("iccid", f"{ICCIDS[0][:4]} {ICCIDS[0][4:10]} {ICCIDS[0][10:]}", None),  # grouped as printed
    ("iccid", with_check_digit("89331503198765432101"), None),  # 21 digits
    ("iccid", BAD_ICCID, "chiffre de contrôle ICCID incorrect."),
    ("iccid", with_check_digit("8933150319876"), "un ICCID compte de 18 à 22 chiffres."),
    ("iccid", with_check_digit("8933150319876543210987654"), "un ICCID compte de 18 à 22 chiffres."),
    ("iccid", with_check_digit("123315031987654321"), "un ICCID commence par 89."),
    ("iccid", "8933150319876543A10", "un ICCID ne contient que des chiffres."),
    ("imei", IMEIS[0], None),
    ("imei", f"{IMEIS[0][:2]}-{IMEIS[0][2:8]}-{IMEIS[0][8:14]}-{IMEIS[0][14]}", None),
    ("imei", BAD_IMEI, "chiffre de contrôle IMEI incorrect."),
    ("imei", IMEIS[0][:14], "un IMEI compte 15 chiffres."),
    ("imei", IMEIS[0] + "0", "un IMEI compte 15 chiffres."),
    ("imei", "35417803685978X", "un IMEI ne contient que des chiffres."),
    ("serial", "PF3XK2-2024", None),
    ("serial", "AB", "un numéro de série compte de 3 à 40 lettres, chiffres ou tirets."),
    ("serial", "PF3X K2", "un numéro de série compte de 3 à 40 lettres, chiffres ou tirets."),
    ("serial", "S" * 41, "un numéro de série compte de 3 à 40 lettres, chiffres ou tirets."),
])
def test_each_serial_number_is_checked(tracking, serial, problem):
    assert serial_problem(tracking, serial) == problem


def test_lines_are_numbered_as_pasted_and_duplicates_named():
    text = f"{ICCIDS[0]}\r\n\n  {ICCIDS[1]}  \n{BAD_ICCID}\n{ICCIDS[0]}\n"
    serials, problems = read_serials("iccid", text)
    assert serials == [(1, ICCIDS[0]), (3, ICCIDS[1])]
    assert problems == [f"Ligne 4 : {BAD_ICCID} — chiffre de contrôle ICCID incorrect.",
                        f"Ligne 5 : {ICCIDS[0]} — déjà saisi ligne 1."]


# --- deliveries ---------------------------------------------------------------------------

def test_a_delivery_of_scanned_iccids_creates_the_units_and_one_movement(client, as_coordinator, make_product):
    coordinator, gap, _, _ = as_coordinator
    sim = make_product([gap], name="Carte SIM prépayée", tracking="iccid")
    r = client.post("/stock/deliveries/new", data=delivery(gap, sim, serials="\n".join(ICCIDS[:3]) + "\n"))
    assert r.status_code == 303 and r.headers["Location"] == f"/stock/?relay={gap.id}"
    (movement,) = db.session.scalars(select(StockMovement)).all()
    assert (movement.relay_id, movement.product_id, movement.quantity, movement.kind, movement.reference,
            movement.user_id) == (gap.id, sim.id, 3, "delivery", "BL-2026-0042", coordinator.id)
    items = db.session.scalars(select(SerialItem).order_by(SerialItem.serial)).all()
    assert [(i.serial, i.relay_id, i.status) for i in items] == [(s, gap.id, "in_stock") for s in ICCIDS[:3]]
    assert stock_level(gap.id, sim.id) == 3
    assert_levels_match_movements()
    assert db.session.scalar(select(AuditEvent.detail).where(AuditEvent.action == "stock.delivery")) == (
        f"{sim.code} +3 bon BL-2026-0042")
    page = client.get(r.headers["Location"]).text
    assert "Livraison enregistrée : 3 × Carte SIM prépayée pour Secours Populaire Gap." in page


def test_a_delivery_of_refurbished_phones_keeps_their_grade(client, as_coordinator, make_product):
    _, gap, _, _ = as_coordinator
    phone = make_product([gap], name="Smartphone", category="smartphone", tracking="imei", price=4900)
    r = client.post("/stock/deliveries/new", data=delivery(gap, phone, serials="\n".join(IMEIS), grade="B"))
    assert r.status_code == 303
    assert {i.grade for i in db.session.scalars(select(SerialItem))} == {"B"}
    assert stock_level(gap.id, phone.id) == 3


def test_a_delivery_of_untracked_products_by_quantity(client, as_coordinator, make_product):
    _, gap, _, _ = as_coordinator
    recharge = make_product([gap], name="Recharge 10 €", category="recharge", stock=2)
    assert client.post("/stock/deliveries/new", data=delivery(gap, recharge, quantity="40")).status_code == 303
    assert stock_level(gap.id, recharge.id) == 42
    assert_levels_match_movements()


@pytest.mark.parametrize("tracking, lines, message", [
    ("iccid", [ICCIDS[0], ICCIDS[1], BAD_ICCID], f"Ligne 3 : {BAD_ICCID} — chiffre de contrôle ICCID incorrect."),
    ("iccid", [ICCIDS[0], "", "8933"], "Ligne 3 : 8933 — un ICCID compte de 18 à 22 chiffres."),
    ("iccid", [ICCIDS[0], ICCIDS[1], ICCIDS[0]], f"Ligne 3 : {ICCIDS[0]} — déjà saisi ligne 1."),
    ("imei", [IMEIS[0], BAD_IMEI], f"Ligne 2 : {BAD_IMEI} — chiffre de contrôle IMEI incorrect."),
    ("imei", [IMEIS[0], IMEIS[1][:14]], f"Ligne 2 : {IMEIS[1][:14]} — un IMEI compte 15 chiffres."),
    ("serial", ["PF3XK2", "PF 3XK3"], "Ligne 2 : PF 3XK3 — un numéro de série compte de 3 à 40 lettres, "
                                      "chiffres ou tirets."),
    ("iccid", [], "Scannez ou collez les numéros, un par ligne."),
])
def test_one_wrong_line_refuses_the_whole_delivery(client, as_coordinator, make_product, tracking, lines, message):
    _, gap, _, _ = as_coordinator
    product = make_product([gap], tracking=tracking, category="smartphone" if tracking == "imei" else "sim")
    r = client.post("/stock/deliveries/new", data=delivery(gap, product, serials="\n".join(lines)))
    assert r.status_code == 422
    assert message in errors(r)
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0
    assert db.session.scalar(select(func.count()).select_from(SerialItem)) == 0
    assert "\n".join(lines) in html.unescape(r.text)  # the pasted list is kept for correction


def test_serials_already_known_for_the_product_are_named(client, as_coordinator, make_product):
    _, gap, briancon, _ = as_coordinator
    sim = make_product([gap, briancon], tracking="iccid")
    assert client.post("/stock/deliveries/new", data=delivery(briancon, sim, serials=ICCIDS[1])).status_code == 303
    r = client.post("/stock/deliveries/new", data=delivery(gap, sim, serials="\n".join(ICCIDS[:3])))
    assert r.status_code == 422
    assert f"Ligne 2 : {ICCIDS[1]} — déjà enregistré pour ce produit." in errors(r)
    assert stock_level(gap.id, sim.id) == 0 and stock_level(briancon.id, sim.id) == 1
    assert_levels_match_movements()


@pytest.mark.parametrize("tracking, category, fields, field, message", [
    ("none", "sim", {"quantity": ""}, "quantity", "Indiquez la quantité livrée."),
    ("none", "sim", {"quantity": "0"}, "quantity", "Entre 1 et 10 000."),
    ("none", "sim", {"quantity": "3", "serials": ICCIDS[0]}, "serials",
     "Ce produit n'a pas de numéro de série : indiquez seulement la quantité."),
    ("iccid", "sim", {"quantity": "5", "serials": ICCIDS[0]}, "quantity",
     "La quantité (5) ne correspond pas au nombre de numéros (1)."),
    ("iccid", "sim", {"serials": ICCIDS[0], "grade": "A"}, "grade",
     "Le grade ne concerne que les appareils reconditionnés."),
    ("iccid", "sim", {"serials": ICCIDS[0], "note": ""}, "note", "Saisissez le numéro du bon de livraison."),
    ("iccid", "sim", {"serials": ICCIDS[0], "product_id": ""}, "product_id",
     "Choix non valide, ne peut pas être converti."),
    ("iccid", "sim", {"serials": ICCIDS[0], "product_id": "0"}, "product_id", "Choisissez le produit livré."),
    ("iccid", "sim", {"serials": ICCIDS[0], "relay_id": "0"}, "relay_id", "Choisissez la structure livrée."),
])
def test_delivery_form_validation(client, as_coordinator, make_product, tracking, category, fields, field, message):
    _, gap, _, _ = as_coordinator
    product = make_product([gap], tracking=tracking, category=category)
    r = client.post("/stock/deliveries/new", data=delivery(gap, product, **fields))
    assert r.status_code == 422
    assert f'id="{field}-error"' in r.text and errors(r) == message
    assert db.session.scalar(select(func.count()).select_from(StockMovement)) == 0


def test_only_products_offered_by_the_relay_are_delivered(client, as_coordinator, make_product):
    _, gap, briancon, _ = as_coordinator
    sim = make_product([briancon], name="Carte SIM prépayée", tracking="none")
    r = client.post("/stock/deliveries/new", data=delivery(gap, sim, quantity="5"))
    assert r.status_code == 422
    assert ("Carte SIM prépayée n'est pas proposé par Secours Populaire Gap : ajoutez-le dans le catalogue."
            in errors(r))
    inactive = make_product([gap], active=False, tracking="none")
    r = client.post("/stock/deliveries/new", data=delivery(gap, inactive, quantity="5"))
    assert r.status_code == 422 and "Choisissez un produit actif du catalogue." in errors(r)


def test_a_coordinator_cannot_deliver_to_another_territory(client, as_coordinator, make_product):
    _, _, _, elsewhere = as_coordinator
    sim = make_product([elsewhere], tracking="none")
    r = client.post("/stock/deliveries/new", data=delivery(elsewhere, sim, quantity="5"))
    assert r.status_code == 422 and "N'est pas un choix valide." in errors(r)
    assert stock_level(elsewhere.id, sim.id) == 0
    page = client.get("/stock/deliveries/new").text
    assert "Relais d&#39;un autre territoire" not in page


def test_delivery_form_page_and_fragment(client, as_coordinator, make_product):
    _, gap, briancon, _ = as_coordinator
    make_product([gap], name="Carte SIM Gap")
    make_product([briancon], name="Recharge Briançon", category="recharge")
    page = client.get("/stock/deliveries/new")
    assert page.status_code == 200 and "<html" in page.text
    assert "Carte SIM Gap" in page.text and "Recharge Briançon" in page.text
    # choosing the relay reloads the form with its products only
    fragment = client.get(f"/stock/deliveries/new?relay_id={gap.id}", headers=PARTIAL)
    assert fragment.status_code == 200 and fragment.text.lstrip().startswith("<form")
    assert "<html" not in fragment.text
    assert "Carte SIM Gap" in fragment.text and "Recharge Briançon" not in fragment.text
    assert f'<option selected value="{gap.id}">' in fragment.text
    invalid = client.post("/stock/deliveries/new", data={"note": ""}, headers=PARTIAL)
    assert invalid.status_code == 422 and invalid.text.lstrip().startswith("<form")
    assert "Saisissez le numéro du bon de livraison." in invalid.text


def test_a_successful_htmx_delivery_redirects_the_whole_page(client, as_coordinator, make_product):
    _, gap, _, _ = as_coordinator
    recharge = make_product([gap], category="recharge")
    r = client.post("/stock/deliveries/new", data=delivery(gap, recharge, quantity="3"), headers=PARTIAL)
    assert r.status_code == 204 and r.headers["HX-Redirect"] == f"/stock/?relay={gap.id}"


@pytest.mark.parametrize("role", [Role.VOLUNTEER, Role.MANAGER])
def test_relay_staff_do_not_record_deliveries(client, login, make_user, make_product, role):
    user = make_user(role)
    sim = make_product([user.relay], tracking="none")
    login(user)
    r = client.post("/stock/deliveries/new", data=delivery(user.relay, sim, quantity="5"))
    assert r.status_code == 403 and stock_level(user.relay_id, sim.id) == 0


# --- count adjustments --------------------------------------------------------------------

@pytest.fixture
def manager(client, login, make_user, make_product):
    """A manager logged in, with 10 SIM cards on the shelf."""
    user = make_user(Role.MANAGER, display_name="Référente")
    user.sim = make_product([user.relay], name="Carte SIM prépayée", stock=10)
    login(user)
    return user


def test_a_count_records_the_difference_with_its_reason(client, manager):
    r = client.post(f"/stock/{manager.relay_id}/adjust",
                    data={"product_id": manager.sim.id, "counted": "7", "reason": "Cartes abîmées"})
    assert r.status_code == 303 and r.headers["Location"] == "/stock/"
    movement = db.session.scalar(select(StockMovement).where(StockMovement.kind == "adjustment"))
    assert (movement.quantity, movement.reason, movement.user_id) == (-3, "Cartes abîmées", manager.id)
    assert stock_level(manager.relay_id, manager.sim.id) == 7
    client.post(f"/stock/{manager.relay_id}/adjust",
                data={"product_id": manager.sim.id, "counted": "12", "reason": "Carton retrouvé"})
    assert stock_level(manager.relay_id, manager.sim.id) == 12
    assert_levels_match_movements()
    assert "Stock de Carte SIM prépayée ramené à 12." in client.get("/stock/").text


@pytest.mark.parametrize("counted, reason, message", [
    ("10", "Recompté", "Le stock est déjà de 10."),
    ("-1", "Perte", "Entre 0 et 10 000."),
    ("", "Perte", "Indiquez la quantité comptée (0 s'il n'en reste aucune)."),
    ("sept", "Perte", "N'est pas un entier valide."),
    ("7", "", "Indiquez le motif de l'écart (casse, perte, erreur de saisie…)."),
    ("7", "r" * 301, "300 caractères au plus."),
])
def test_count_validation(client, manager, counted, reason, message):
    r = client.post(f"/stock/{manager.relay_id}/adjust",
                    data={"product_id": manager.sim.id, "counted": counted, "reason": reason})
    assert r.status_code == 422 and errors(r) == message
    assert stock_level(manager.relay_id, manager.sim.id) == 10
    assert_levels_match_movements()


def test_a_count_to_zero_empties_the_shelf(client, manager):
    client.post(f"/stock/{manager.relay_id}/adjust",
                data={"product_id": manager.sim.id, "counted": "0", "reason": "Vol"})
    assert stock_level(manager.relay_id, manager.sim.id) == 0
    assert_levels_match_movements()


def test_tracked_products_are_not_counted_by_quantity(client, manager, make_product):
    phone = make_product([manager.relay], category="smartphone", tracking="imei", stock=2)
    r = client.post(f"/stock/{manager.relay_id}/adjust", data={"product_id": phone.id, "counted": "1", "reason": "x"})
    assert r.status_code == 422
    assert "numéro par numéro" in html.unescape(r.text)
    assert stock_level(manager.relay_id, phone.id) == 2


def test_a_manager_counts_only_their_relay(client, manager, make_relay, make_product):
    other = make_relay(territory=manager.relay.territory)
    make_product([other], stock=4)
    assert client.get(f"/stock/{other.id}/adjust").status_code == 404
    assert client.post(f"/stock/{other.id}/adjust", data={"counted": "0", "reason": "x"}).status_code == 404


# --- transfers ----------------------------------------------------------------------------

def transfer(source, destination, product, quantity="4"):
    return {"source_id": source.id, "destination_id": destination.id, "product_id": product.id,
            "quantity": quantity}


def test_a_transfer_moves_units_out_of_one_relay_into_the_other(client, as_coordinator, make_product):
    coordinator, gap, briancon, _ = as_coordinator
    recharge = make_product([gap, briancon], name="Recharge 10 €", category="recharge", stock=10)
    r = client.post("/stock/transfers/new", data=transfer(gap, briancon, recharge))
    assert r.status_code == 303 and r.headers["Location"] == f"/stock/?relay={gap.id}"
    assert stock_level(gap.id, recharge.id) == 6 and stock_level(briancon.id, recharge.id) == 14
    moves = db.session.execute(select(StockMovement.relay_id, StockMovement.quantity, StockMovement.kind,
                                      StockMovement.reference).where(StockMovement.kind.like("transfer%"))
                               .order_by(StockMovement.id)).all()
    assert moves == [(gap.id, -4, "transfer_out", "SPFGAP → CADABRI"), (briancon.id, 4, "transfer_in", "SPFGAP → CADABRI")]
    assert_levels_match_movements()
    assert "Transfert enregistré : 4 × Recharge 10 € de Secours Populaire Gap vers CADA Briançon." in (
        html.unescape(client.get(r.headers["Location"]).text))


def test_a_transfer_beyond_the_stock_changes_nothing(client, as_coordinator, make_product):
    _, gap, briancon, _ = as_coordinator
    recharge = make_product([gap, briancon], category="recharge", stock=3)
    r = client.post("/stock/transfers/new", data=transfer(gap, briancon, recharge, "5"))
    assert r.status_code == 422
    assert "Stock insuffisant à Secours Populaire Gap : 3 disponibles." in errors(r)
    assert stock_level(gap.id, recharge.id) == 3 and stock_level(briancon.id, recharge.id) == 3
    assert_levels_match_movements()


def test_a_transfer_failing_halfway_leaves_both_sides_unchanged(client, as_coordinator, make_product, monkeypatch):
    _, gap, briancon, _ = as_coordinator
    recharge = make_product([gap, briancon], category="recharge", stock=10)
    real_move = operations.move_stock

    def move_then_fail(relay_id, product_id, quantity, kind, *args, **kwargs):
        if kind == "transfer_in":
            raise RuntimeError("connection lost")
        return real_move(relay_id, product_id, quantity, kind, *args, **kwargs)

    monkeypatch.setattr(operations, "move_stock", move_then_fail)
    with pytest.raises(RuntimeError):
        client.post("/stock/transfers/new", data=transfer(gap, briancon, recharge))
    assert stock_level(gap.id, recharge.id) == 10 and stock_level(briancon.id, recharge.id) == 10
    assert db.session.scalar(select(func.count()).select_from(StockMovement).where(
        StockMovement.kind.like("transfer%"))) == 0
    assert_levels_match_movements()


def test_transfer_validation(client, as_coordinator, make_product):
    _, gap, briancon, elsewhere = as_coordinator
    recharge = make_product([gap], name="Recharge 10 €", category="recharge", stock=10)
    same = client.post("/stock/transfers/new", data=transfer(gap, gap, recharge))
    assert same.status_code == 422 and "Choisissez une autre structure que celle de départ." in errors(same)
    not_offered = client.post("/stock/transfers/new", data=transfer(gap, briancon, recharge))
    assert not_offered.status_code == 422
    assert "Recharge 10 € n'est pas proposé par CADA Briançon : ajoutez-le dans le catalogue." in errors(not_offered)
    outside = client.post("/stock/transfers/new", data=transfer(gap, elsewhere, recharge))
    assert outside.status_code == 422 and "N'est pas un choix valide." in errors(outside)
    sim = make_product([gap, briancon], tracking="iccid")
    tracked = client.post("/stock/transfers/new", data=transfer(gap, briancon, sim))
    assert tracked.status_code == 422 and "suivi par numéro de série" in html.unescape(tracked.text)
    assert stock_level(gap.id, recharge.id) == 10
    assert_levels_match_movements()


# --- levels, thresholds, movements --------------------------------------------------------

def test_volunteers_see_their_relay_levels_with_low_stock_badges(client, login, make_user, make_product, make_relay):
    volunteer = make_user(Role.VOLUNTEER)
    make_product([volunteer.relay], name="Carte SIM prépayée", stock=5)  # threshold 5: low
    make_product([volunteer.relay], name="Recharge 10 €", category="recharge", stock=30)
    other = make_relay(territory=volunteer.relay.territory)
    login(volunteer)
    page = client.get("/stock/").text
    assert volunteer.relay.name in page and page.count("Stock bas") == 1
    assert "Corriger après inventaire" not in page and "Nouvelle livraison" not in page
    assert client.get(f"/stock/?relay={other.id}").status_code == 404
    assert client.get(f"/stock/{other.id}/movements").status_code == 404
    assert client.get(f"/stock/{volunteer.relay_id}/adjust").status_code == 403


def test_coordinators_choose_a_relay_and_see_low_stock_counts(client, as_coordinator, make_product):
    _, gap, briancon, elsewhere = as_coordinator
    make_product([gap, briancon], name="Carte SIM prépayée", stock=2)
    make_product([gap], name="Recharge 10 €", category="recharge", stock=1)
    make_product([gap], name="Ancien forfait", category="plan", active=False)  # withdrawn: never low
    overview = client.get("/stock/").text
    assert re.search(rf'relay={gap.id}">Secours Populaire Gap</a>.*?<span class="badge warn">2</span>', overview, re.S)
    assert re.search(rf'relay={briancon.id}">CADA Briançon</a>.*?<span class="badge warn">1</span>', overview, re.S)
    assert "Relais d&#39;un autre territoire" not in overview
    page = client.get(f"/stock/?relay={gap.id}").text
    assert page.count(">Stock bas<") == 2 and "Ancien forfait" in page
    fragment = client.get(f"/stock/?relay={briancon.id}", headers=PARTIAL).text
    assert fragment.lstrip().startswith('<div id="levels">') and "<html" not in fragment
    assert client.get(f"/stock/?relay={elsewhere.id}").status_code == 404
    assert client.get(f"/stock/{elsewhere.id}/movements").status_code == 404


def test_a_manager_sets_thresholds(client, manager, make_product):
    recharge = make_product([manager.relay], name="Recharge 10 €", category="recharge", stock=8)
    assert "Stock bas" not in client.get("/stock/").text
    r = client.post(f"/stock/{manager.relay_id}/thresholds",
                    data={f"threshold_{manager.sim.id}": "5", f"threshold_{recharge.id}": "8"})
    assert r.status_code == 303
    assert db.session.get(ProductOffer, (recharge.id, manager.relay_id)).low_stock_threshold == 8
    page = html.unescape(client.get("/stock/").text)
    assert "Seuils d'alerte enregistrés (1 modifié)." in page and page.count(">Stock bas<") == 1
    r = client.post(f"/stock/{manager.relay_id}/thresholds",
                    data={f"threshold_{manager.sim.id}": "-1", f"threshold_{recharge.id}": ""})
    assert r.status_code == 422
    assert "Entre 0 et 1 000." in errors(r)
    assert "Indiquez un seuil (0 : alerte seulement quand il n'en reste plus)." in errors(r)


def test_movements_are_listed_newest_first_with_their_labels(client, manager, make_user):
    client.post(f"/stock/{manager.relay_id}/adjust",
                data={"product_id": manager.sim.id, "counted": "9", "reason": "Carte pliée"})
    volunteer = make_user(Role.VOLUNTEER, relay=manager.relay)
    client.post("/logout")
    client.post("/login", data={"email": volunteer.email, "password": "un-mot-de-passe-de-test"})
    page = html.unescape(client.get(f"/stock/{manager.relay_id}/movements?product={manager.sim.id}").text)
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>\s*<td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>\s*"
                      r"<td>(.*?)</td></tr>", page)
    assert [row[1:] for row in rows] == [
        ("Carte SIM prépayée", "-1", "Ajustement d'inventaire", "", "Carte pliée", "Référente"),
        ("Carte SIM prépayée", "+10", "Livraison", "BL-TEST", "", "—"),
    ]
    assert re.fullmatch(r"\d\d/\d\d/\d{4} \d\d:\d\d", rows[0][0])


def test_movements_are_paginated_by_fifty(client, manager):
    for i in range(55):
        operations.move_stock(manager.relay_id, manager.sim.id, 1, "delivery", None, f"BL-{i}")
    db.session.commit()
    first = client.get(f"/stock/{manager.relay_id}/movements").text
    assert first.count("<tr><td>") == 50 and "Page 1 / 2" in first and "page=2" in first
    second = client.get(f"/stock/{manager.relay_id}/movements?page=2").text
    assert second.count("<tr><td>") == 6
    assert_levels_match_movements()
