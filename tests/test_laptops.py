"""The loaned-laptop fleet: the coordinator's records, the fleet page (no names), booking a free slot
(refusals, all or nothing, two clicks at once), hand-out on the day, the return (reset or repair),
page and fragment for each change, and a session that cannot move onto another booking."""
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo
from types import SimpleNamespace

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from portal import clock
from portal.errors import Refused
from portal.extensions import db
from portal.laptops.models import Laptop, LaptopLoan
from portal.laptops.operations import book_laptops, hand_out_laptops, return_laptop
from portal.security import Role
from portal.users.models import User
from portal.workshops.models import WorkshopSession
from portal.workshops.operations import enrol
from tests.test_sales_core import run_concurrently

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
YESTERDAY = datetime.now(ZoneInfo("Europe/Paris")).date() - timedelta(days=1)  # the portal's day


def html(text: str) -> str:
    return str(escape(text))


@pytest.fixture
def make_laptop(app):
    def make(territory, tag, state="available", model="Lenovo ThinkPad T480", **fields):
        laptop = Laptop(territory_id=territory.id, tag=tag, state=state, model=model, **fields)
        db.session.add(laptop)
        db.session.commit()
        return laptop
    return make


@pytest.fixture
def fleet(make_relay, make_user, make_parcours, make_workshop_session, make_laptop):
    """Two relays of one territory, each with a volunteer and a parcours; three laptops of the
    territory; `plan(i, …)` plans a session of relay i (yesterday 14:00, 2 h, 3 laptops planned)."""
    first = make_relay(name="CADA Briançon", town="Briançon")
    second = make_relay(first.territory, name="Secours Populaire Embrun", town="Embrun")
    relays = [first, second]
    volunteers = [make_user(Role.VOLUNTEER, relay=relay, display_name=name)
                  for relay, name in zip(relays, ("Claire Martin", "Karim Benali"))]
    parcours = [make_parcours(relay) for relay in relays]
    laptops = [make_laptop(first.territory, f"PC-0{n}") for n in (1, 2, 3)]

    def plan(i, start=time(14), minutes=120, day=YESTERDAY, **fields):
        return make_workshop_session(parcours[i], facilitator=volunteers[i], start_time=start,
                                     duration_minutes=minutes, day=day, commune=relays[i].town,
                                     laptops_planned=3, **fields)

    return SimpleNamespace(relays=relays, volunteers=volunteers, parcours=parcours, laptops=laptops, plan=plan)


@pytest.fixture
def login_as(client, login):
    """Log out whoever is logged in, then log `user` in."""
    def switch(user):
        client.post("/logout")
        assert login(user).status_code == 303
    return switch


def loans(session) -> dict[str, LaptopLoan]:
    return {loan.laptop.tag: loan for loan in db.session.scalars(
        select(LaptopLoan).where(LaptopLoan.session_id == session.id))}


def state(laptop) -> str:
    return db.session.scalar(select(Laptop.state).where(Laptop.id == laptop.id))


# --- booking ---------------------------------------------------------------------------------

def test_booking_without_javascript_and_the_session_page(client, login, fleet):
    session = fleet.plan(0)
    login(fleet.volunteers[0])
    page = client.get(f"/workshops/sessions/{session.id}").text
    assert '<section id="laptops"' in page and "<strong>0</strong> réservé sur 3 prévus" in page
    assert all(f'value="{laptop.id}"' in page for laptop in fleet.laptops)
    r = client.post(f"/laptops/sessions/{session.id}/book", data={"laptop_id": [fleet.laptops[0].id,
                                                                                fleet.laptops[1].id]})
    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/sessions/{session.id}#laptops"
    assert sorted(loans(session)) == ["PC-01", "PC-02"]
    page = client.get(r.headers["Location"]).text
    assert "2 ordinateurs réservés : PC-01, PC-02." in page and "<strong>2</strong> réservés sur 3 prévus" in page
    assert f'value="{fleet.laptops[0].id}"' not in page and f'value="{fleet.laptops[2].id}"' in page


def test_booking_with_htmx_swaps_the_laptops_part(client, login, fleet):
    session = fleet.plan(0)
    login(fleet.volunteers[0])
    r = client.post(f"/laptops/sessions/{session.id}/book", data={"laptop_id": fleet.laptops[2].id},
                    headers=PARTIAL)
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="laptops"') and "<html" not in r.text
    assert "<strong>1</strong> réservé sur 3 prévus" in r.text and "PC-03" in r.text
    assert "toast" in r.headers["HX-Trigger"] and r.headers["Cache-Control"] == "no-store"
    r = client.post(f"/laptops/sessions/{session.id}/book", data={}, headers=PARTIAL)
    assert r.status_code == 422 and r.text.lstrip().startswith('<section id="laptops"')
    assert "Cochez au moins un ordinateur à réserver." in r.text


def test_an_overlapping_booking_is_refused_and_nothing_is_booked(client, login, fleet):
    first, second = fleet.plan(0), fleet.plan(1, start=time(15))  # 14:00–16:00 and 15:00–17:00
    book_laptops(first, [fleet.laptops[0].id], fleet.volunteers[0])
    login(fleet.volunteers[1])
    wanted = {"laptop_id": [fleet.laptops[1].id, fleet.laptops[0].id]}
    expected = html(f"PC-01 est déjà réservé pour la séance du {YESTERDAY:%d/%m/%Y} de 14 h 00 à 16 h 00 "
                    "à Briançon. Aucun ordinateur n'a été réservé.")
    for headers in ({}, PARTIAL):
        r = client.post(f"/laptops/sessions/{second.id}/book", data=wanted, headers=headers)
        assert r.status_code == 422 and expected in r.text
        assert loans(second) == {}  # not even PC-02
    assert "<html" in client.post(f"/laptops/sessions/{second.id}/book", data=wanted).text  # the whole page
    page = client.get(f"/workshops/sessions/{second.id}").text
    assert f'value="{fleet.laptops[0].id}"' not in page and f'value="{fleet.laptops[1].id}"' in page


@pytest.mark.parametrize("first_start, second_day, second_start, second_minutes, clash", [
    (time(14), 0, time(15), 120, True),
    (time(14), 0, time(13), 120, True),
    (time(14), 0, time(14, 30), 30, True),
    (time(14), 0, time(16), 120, False),  # back to back: 14–16 then 16–18
    (time(14), 0, time(12), 120, False),  # 12–14 then 14–16
    (time(14), 1, time(15), 120, False),  # the next day
    (time(23), 1, time(0, 30), 60, True),  # 23:00–01:00 goes past midnight
    (time(23), 1, time(1), 60, False),
])
def test_a_laptop_serves_one_session_at_a_time(fleet, first_start, second_day, second_start, second_minutes,
                                                clash):
    day = YESTERDAY - timedelta(days=2)
    first = fleet.plan(0, start=first_start, day=day)
    second = fleet.plan(1, start=second_start, minutes=second_minutes, day=day + timedelta(days=second_day))
    laptop = fleet.laptops[0]
    book_laptops(first, [laptop.id], fleet.volunteers[0])
    if clash:
        with pytest.raises(Refused, match="PC-01 est déjà réservé pour la séance du"):
            book_laptops(second, [laptop.id], fleet.volunteers[1])
        assert loans(second) == {}
    else:
        assert [b.tag for b in book_laptops(second, [laptop.id], fleet.volunteers[1])] == ["PC-01"]


@pytest.mark.parametrize("laptop_state, label", [("repair", "en réparation"), ("retired", "réformé")])
def test_a_laptop_in_repair_or_retired_cannot_be_booked(client, login, fleet, make_laptop, laptop_state, label):
    session = fleet.plan(0)
    broken = make_laptop(fleet.relays[0].territory, "PC-09", state=laptop_state)
    login(fleet.volunteers[0])
    assert f'value="{broken.id}"' not in client.get(f"/workshops/sessions/{session.id}").text
    r = client.post(f"/laptops/sessions/{session.id}/book", data={"laptop_id": [fleet.laptops[0].id, broken.id]})
    assert r.status_code == 422 and f"PC-09 est {label} : il ne peut pas être réservé." in r.text
    assert loans(session) == {}


def test_another_territorys_laptop_is_neither_booked_nor_edited(client, login_as, fleet, make_territory, make_laptop,
                                                                make_user):
    session = fleet.plan(0)
    far = make_laptop(make_territory(), "PC-01")
    login_as(fleet.volunteers[0])
    r = client.post(f"/laptops/sessions/{session.id}/book", data={"laptop_id": far.id})
    assert r.status_code == 422 and "Ordinateur introuvable dans le parc du territoire." in r.text
    assert loans(session) == {}
    assert client.get("/laptops/").text.count("PC-01") == 1  # its own PC-01 only
    login_as(make_user(Role.COORDINATOR, territory=fleet.relays[0].territory))
    assert client.get(f"/laptops/{far.id}/edit").status_code == 404
    assert client.post(f"/laptops/{far.id}/edit", data={"tag": "X", "model": "Y"}).status_code == 404


def test_two_overlapping_bookings_at_once_make_one(app, fleet):
    sessions = [fleet.plan(0), fleet.plan(1, start=time(15))]
    session_ids, user_ids, laptop_id = [s.id for s in sessions], [u.id for u in fleet.volunteers], fleet.laptops[0].id

    def book(i):
        session = db.session.get(WorkshopSession, session_ids[i])
        return book_laptops(session, [laptop_id], db.session.get(User, user_ids[i]))[0].tag

    booked, errors = run_concurrently(app, 2, book)
    assert [tag for tag in booked if tag] == ["PC-01"]
    assert len(errors) == 1 and isinstance(errors[0], Refused) and "déjà réservé" in errors[0].message
    assert db.session.scalar(select(func.count()).select_from(LaptopLoan)) == 1


def test_only_the_organiser_books_and_unbooks(client, login_as, fleet, make_relay, make_user, make_parcours,
                                              make_workshop_session):
    team = make_relay(fleet.relays[0].territory, name="Équipe mobile", is_mobile_team=True)
    session = make_workshop_session(make_parcours(team), host=fleet.relays[0])  # held for the first relay
    book_laptops(session, [fleet.laptops[0].id], make_user(Role.VOLUNTEER, relay=team))
    login_as(fleet.volunteers[0])  # the host relay: hands out and takes back, does not book
    page = client.get(f"/workshops/sessions/{session.id}").text
    assert "Remettre les ordinateurs réservés (1)" in page and 'name="laptop_id"' not in page
    another = {"laptop_id": fleet.laptops[1].id}
    assert client.post(f"/laptops/sessions/{session.id}/book", data=another).status_code == 403
    assert client.post(f"/laptops/sessions/{session.id}/{fleet.laptops[0].id}/delete").status_code == 403
    login_as(fleet.volunteers[1])  # another relay of the territory does not see the session
    assert client.post(f"/laptops/sessions/{session.id}/hand-out").status_code == 404
    for role in (Role.COORDINATOR, Role.ADMIN):
        login_as(make_user(role, territory=fleet.relays[0].territory))
        assert client.post(f"/laptops/sessions/{session.id}/book", data=another).status_code == 403
        assert client.post(f"/laptops/sessions/{session.id}/hand-out").status_code == 403
    assert list(loans(session)) == ["PC-01"]


def test_unbooking_before_the_hand_out_only(client, login, fleet):
    session = fleet.plan(0)
    book_laptops(session, [laptop.id for laptop in fleet.laptops], fleet.volunteers[0])
    login(fleet.volunteers[0])
    url = f"/laptops/sessions/{session.id}/{fleet.laptops[0].id}/delete"
    r = client.post(url)
    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/sessions/{session.id}#laptops"
    r = client.post(f"/laptops/sessions/{session.id}/{fleet.laptops[1].id}/delete", headers=PARTIAL)
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="laptops"')
    assert "<strong>1</strong> réservé sur 3 prévus" in r.text
    assert client.post(url).status_code == 404  # no longer booked
    hand_out_laptops(session, fleet.volunteers[0])
    r = client.post(f"/laptops/sessions/{session.id}/{fleet.laptops[2].id}/delete", headers=PARTIAL)
    assert r.status_code == 422 and "PC-03 a déjà été remis : enregistrez son retour." in r.text
    assert list(loans(session)) == ["PC-03"]


# --- hand-out and return -------------------------------------------------------------------

def test_the_hand_out_lends_the_booked_laptops(client, login, fleet):
    session = fleet.plan(0)
    book_laptops(session, [fleet.laptops[0].id, fleet.laptops[1].id], fleet.volunteers[0])
    login(fleet.volunteers[0])
    r = client.post(f"/laptops/sessions/{session.id}/hand-out")
    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/sessions/{session.id}#laptops"
    assert all(loan.handed_out_at for loan in loans(session).values())
    assert [state(laptop) for laptop in fleet.laptops] == ["loaned", "loaned", "available"]
    page = client.get(r.headers["Location"]).text
    assert "2 ordinateurs remis : PC-01, PC-02." in page and "Remis le" in page and "Remettre les" not in page
    r = client.post(f"/laptops/sessions/{session.id}/hand-out", headers=PARTIAL)
    assert r.status_code == 422 and "Aucun ordinateur réservé n&#39;attend d&#39;être remis" in r.text


def test_the_hand_out_waits_for_the_day_and_for_the_last_return(client, login, fleet):
    later = fleet.plan(0, day=clock.today() + timedelta(days=7))
    book_laptops(later, [fleet.laptops[0].id], fleet.volunteers[0])
    login(fleet.volunteers[0])
    r = client.post(f"/laptops/sessions/{later.id}/hand-out", headers=PARTIAL)
    assert r.status_code == 422 and "La séance n&#39;a pas encore eu lieu" in r.text
    assert "Remettre les" not in client.get(f"/workshops/sessions/{later.id}").text
    before = fleet.plan(1, day=YESTERDAY - timedelta(days=1))  # its laptop never came back
    book_laptops(before, [fleet.laptops[1].id], fleet.volunteers[1])
    hand_out_laptops(before, fleet.volunteers[1])
    session = fleet.plan(0)
    book_laptops(session, [fleet.laptops[1].id, fleet.laptops[2].id], fleet.volunteers[0])
    r = client.post(f"/laptops/sessions/{session.id}/hand-out")
    expected = f"PC-02 est encore prêté pour la séance du {before.day:%d/%m/%Y} de 14 h 00 à 16 h 00 à Embrun"
    assert r.status_code == 422 and expected in r.text
    assert not any(loan.handed_out_at for loan in loans(session).values())  # not even PC-03
    return_laptop(before, fleet.laptops[1].id, fleet.volunteers[1], reset_done=True)
    assert client.post(f"/laptops/sessions/{session.id}/hand-out").status_code == 303


def test_a_return_needs_the_reset_unless_the_laptop_goes_to_repair(client, login, fleet):
    session = fleet.plan(0)
    book_laptops(session, [laptop.id for laptop in fleet.laptops], fleet.volunteers[0])
    hand_out_laptops(session, fleet.volunteers[0])
    login(fleet.volunteers[0])
    first, second = fleet.laptops[0].id, fleet.laptops[1].id
    r = client.post(f"/laptops/sessions/{session.id}/{first}/return", data={"damage": ""}, headers=PARTIAL)
    assert r.status_code == 422 and r.text.lstrip().startswith('<section id="laptops"')
    assert f'<p id="l{first}-reset_done-error" class="error">Effacez les données personnelles' in r.text
    assert f'id="l{second}-reset_done"' in r.text and f'id="l{second}-reset_done-error"' not in r.text
    assert loans(session)["PC-01"].returned_at is None and state(fleet.laptops[0]) == "loaned"
    r = client.post(f"/laptops/sessions/{session.id}/{first}/return", data={"reset_done": "y"})
    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/sessions/{session.id}#laptops"
    assert state(fleet.laptops[0]) == "available" and loans(session)["PC-01"].reset_done
    r = client.post(f"/laptops/sessions/{session.id}/{second}/return", headers=PARTIAL,
                    data={"damage": "Écran fissuré", "needs_repair": "y"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="laptops"')
    assert "Dégâts : Écran fissuré" in r.text and "En réparation" in r.text
    assert state(fleet.laptops[1]) == "repair" and loans(session)["PC-02"].returned_by_id == fleet.volunteers[0].id
    again = client.post(f"/laptops/sessions/{session.id}/{second}/return", data={"reset_done": "y"})
    assert again.status_code == 422 and "Le retour de PC-02 est déjà enregistré." in again.text


def test_a_return_without_the_hand_out_click(client, login, fleet):
    session = fleet.plan(0)
    book_laptops(session, [fleet.laptops[0].id], fleet.volunteers[0])
    login(fleet.volunteers[0])
    assert client.post(f"/laptops/sessions/{session.id}/{fleet.laptops[0].id}/return",
                       data={"reset_done": "y"}).status_code == 303
    loan = loans(session)["PC-01"]
    assert loan.returned_at and loan.handed_out_at is None and state(fleet.laptops[0]) == "available"
    assert client.post(f"/laptops/sessions/{session.id}/{fleet.laptops[1].id}/return",
                       data={"reset_done": "y"}).status_code == 404  # not booked for it


# --- the session's slot ------------------------------------------------------------------------

def test_a_session_cannot_move_onto_another_booking_of_its_laptops(client, login, fleet):
    first, second = fleet.plan(0), fleet.plan(1, start=time(16))
    book_laptops(first, [fleet.laptops[0].id], fleet.volunteers[0])
    book_laptops(second, [fleet.laptops[0].id], fleet.volunteers[1])
    login(fleet.volunteers[1])
    data = {"day": YESTERDAY.isoformat(), "start_time": "15:00", "duration": "2 h", "commune": "Embrun",
            "venue": "Salle", "facilitator_id": str(fleet.volunteers[1].id), "capacity": "8", "laptops_planned": "3"}
    r = client.post(f"/workshops/sessions/{second.id}/edit", data=data)
    expected = html(f"L'ordinateur PC-01, réservé pour cette séance, l'est aussi pour la séance du "
                    f"{YESTERDAY:%d/%m/%Y} de 14 h 00 à 16 h 00 à Briançon")
    assert r.status_code == 422 and f'<p id="start_time-error" class="error">{expected}' in r.text
    assert db.session.get(WorkshopSession, second.id).start_time == time(16)
    assert client.post(f"/workshops/sessions/{second.id}/edit", data=data | {"start_time": "16:30"}).status_code == 303


# --- the fleet and its records ------------------------------------------------------------------

def test_the_fleet_page_tells_where_each_laptop_is_and_names_no_one(client, login_as, fleet, make_beneficiary,
                                                                    make_user):
    own = fleet.plan(0, day=clock.today() + timedelta(days=2))
    other = fleet.plan(1, day=clock.today() + timedelta(days=3))
    person = make_beneficiary(fleet.relays[0], "Олена", "Шевченко")
    enrol(fleet.parcours[0], person.id, fleet.relays[0].id, fleet.volunteers[0])
    book_laptops(own, [fleet.laptops[0].id], fleet.volunteers[0])
    book_laptops(other, [fleet.laptops[1].id], fleet.volunteers[1])
    db.session.get(Laptop, fleet.laptops[2].id).state = "repair"
    db.session.commit()
    login_as(fleet.volunteers[0])
    r = client.get("/laptops/")
    page = r.text
    assert r.status_code == 200 and "Disponible : <strong>2</strong> · Prêté : <strong>0</strong> · " \
                                    "En réparation : <strong>1</strong>" in page
    assert f'href="/workshops/sessions/{own.id}#laptops"' in page and f"/workshops/sessions/{other.id}" not in page
    assert "Secours Populaire Embrun" in page and "CADA Briançon" in page
    for name in (person.full_name, "Karim Benali"):  # a person enrolled; the other relay's facilitator
        assert name not in page
    assert "Ajouter un ordinateur" not in page and "/edit" not in page
    assert 'href="/laptops/" aria-current="page">Ordinateurs</a>' in page
    login_as(make_user(Role.COORDINATOR, territory=fleet.relays[0].territory))
    page = client.get("/laptops/").text
    assert "Ajouter un ordinateur" in page and f"/laptops/{fleet.laptops[0].id}/edit" in page
    assert "/workshops/sessions/" not in page  # coordinators do not open sessions


@pytest.fixture
def coordinator(client, login, fleet, make_user):
    user = make_user(Role.COORDINATOR, territory=fleet.relays[0].territory)
    login(user)
    return user


def laptop_data(**overrides):
    return {"tag": "pc-10", "model": "Dell Latitude 5490", "serial": "5CG1234", "state": "available",
            "notes": ""} | overrides


def test_a_coordinator_adds_and_edits_a_laptop(client, coordinator, fleet):
    r = client.post("/laptops/new", data=laptop_data())
    assert r.status_code == 303 and r.headers["Location"] == "/laptops/"
    laptop = db.session.scalar(select(Laptop).where(Laptop.tag == "PC-10"))  # the tag as on the lid
    assert laptop.territory_id == fleet.relays[0].territory_id and laptop.serial == "5CG1234"
    assert "Ordinateur PC-10 enregistré." in client.get("/laptops/").text
    r = client.post(f"/laptops/{laptop.id}/edit", data=laptop_data(state="repair", notes="Clavier à changer"))
    assert r.status_code == 303 and state(laptop) == "repair"


@pytest.mark.parametrize("field, value, message", [
    ("tag", "", "Saisissez le numéro collé sur l&#39;ordinateur."),
    ("tag", "PC-01", "Ce numéro est déjà celui d&#39;un autre ordinateur du parc."),
    ("tag", "x" * 21, "20 caractères au plus."),
    ("model", "", "Saisissez le modèle"),
    ("state", "loaned", "N&#39;est pas un choix valide"),
    ("notes", "n" * 301, "300 caractères au plus."),
])
def test_the_laptop_form_fails_in_place(client, coordinator, fleet, field, value, message):
    r = client.post("/laptops/new", data=laptop_data(**{field: value}))
    assert r.status_code == 422 and message in r.text
    assert f'<p id="{field}-error" class="error">' in r.text  # next to its field
    r = client.post("/laptops/new", data=laptop_data(**{field: value}), headers=PARTIAL)
    assert r.status_code == 422 and r.text.lstrip().startswith("<form")
    assert db.session.scalar(select(func.count()).select_from(Laptop)) == 3


def test_a_loaned_laptops_state_is_not_set_by_hand(client, coordinator, fleet):
    session = fleet.plan(0)
    book_laptops(session, [fleet.laptops[0].id], fleet.volunteers[0])
    hand_out_laptops(session, fleet.volunteers[0])
    url = f"/laptops/{fleet.laptops[0].id}/edit"
    form = client.get(url).text
    assert 'name="state"' not in form and "il redeviendra disponible" in form
    assert client.post(url, data=laptop_data(tag="PC-01", state="retired")).status_code == 303
    assert state(fleet.laptops[0]) == "loaned"


@pytest.mark.parametrize("role, status", [(Role.VOLUNTEER, 403), (Role.MANAGER, 403), (Role.ADMIN, 403)])
def test_only_coordinators_keep_the_records(client, login, fleet, make_user, role, status):
    login(make_user(role, relay=fleet.relays[0]))
    assert client.get("/laptops/new").status_code == status
    assert client.get(f"/laptops/{fleet.laptops[0].id}/edit").status_code == status
    assert client.get("/laptops/").status_code == 200
