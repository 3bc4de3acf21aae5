"""Workshops: parcours and sessions (forms, duplicate, lists), enrolment within the places left,
attendance in one click (page, fragment, no-JS), the mobile team's scope, the printed sheet, the
person's profile and the demo."""
import io
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from portal.beneficiaries.models import Beneficiary
from portal.demo import seed_demo
from portal.errors import Refused
from portal.extensions import db
from portal.relays.models import Relay
from portal.security import Role
from portal.workshops.documents import attendance_sheet_context
from portal.workshops.forms import format_duration, parse_duration
from portal.workshops.models import Attendance, Enrolment, Parcours, WorkshopSession
from portal.workshops.operations import enrol, record_attendance
from portal.workshops.queries import parcours_people
from tests.test_receipt import assert_plain

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
TODAY = datetime.now(ZoneInfo("Europe/Paris")).date()  # the portal's day (TIMEZONE), not the machine's


@pytest.fixture
def workshop(make_relay, make_user, make_parcours, make_workshop_session, make_beneficiary):
    """A relay, its volunteer (the facilitator), a parcours with yesterday's session and two
    people enrolled; a person of the relay not enrolled."""
    relay = make_relay(name="CADA Briançon", town="Briançon")
    volunteer = make_user(Role.VOLUNTEER, relay=relay, display_name="Claire Martin")
    parcours = make_parcours(relay, title="Démarches en ligne", themes="procedures,email")
    session = make_workshop_session(parcours, facilitator=volunteer, commune="Névache", venue="Salle des fêtes")
    people = [make_beneficiary(relay, "Олена", "Шевченко"), make_beneficiary(relay, "Yonas", "Tesfay")]
    for person in people:
        enrol(parcours, person.id, relay.id, volunteer)
    outsider = make_beneficiary(relay, "Mamadou", "Diallo")
    return relay, volunteer, parcours, session, people, outsider


@pytest.fixture
def volunteer(workshop, login):
    login(workshop[1])
    return workshop[1]


def parcours_data(**overrides):
    return {"title": "Premiers pas sur smartphone", "description": "", "level": "beginner",
            "themes": ["messaging", "smartphone"], "planned_sessions": "4", "active": "y"} | overrides


def session_data(facilitator, **overrides):
    return {"day": (TODAY + timedelta(days=7)).isoformat(), "start_time": "14:00", "duration": "1 h 30",
            "commune": "Névache", "venue": "Salle des fêtes", "facilitator_id": str(facilitator.id),
            "capacity": "8", "laptops_planned": "6", "notes": ""} | overrides


def marks(session):
    return dict(db.session.execute(select(Attendance.beneficiary_id, Attendance.status)
                                   .where(Attendance.session_id == session.id)).all())


# --- parcours and sessions -----------------------------------------------------------------

def test_a_parcours_is_created_for_the_users_relay(client, volunteer):
    r = client.post("/workshops/parcours/new", data=parcours_data())
    parcours = db.session.scalar(select(Parcours).where(Parcours.title == "Premiers pas sur smartphone"))
    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/parcours/{parcours.id}"
    assert parcours.relay_id == volunteer.relay_id and parcours.planned_sessions == 4
    assert parcours.themes == "smartphone,messaging"  # in the order of THEMES
    page = client.get(r.headers["Location"]).text
    assert "Prise en main du smartphone, Appels vidéo et messageries" in page and "Débutant" in page


@pytest.mark.parametrize("field, value, message", [
    ("title", "", "Saisissez le titre du parcours."),
    ("title", "t" * 121, "120 caractères au plus."),
    ("description", "d" * 1001, "1000 caractères au plus."),
    ("level", "expert", "N&#39;est pas un choix valide"),
    ("themes", [], "Choisissez au moins un thème."),
    ("themes", ["cooking"], "cooking"),
    ("planned_sessions", "", "Indiquez le nombre de séances prévues."),
    ("planned_sessions", "0", "Entre 1 et 50 séances."),
    ("planned_sessions", "quatre", "entier"),
])
def test_parcours_form_fails_in_place(client, volunteer, field, value, message):
    r = client.post("/workshops/parcours/new", data=parcours_data(**{field: value}))
    assert r.status_code == 422 and message in r.text
    assert db.session.scalar(select(func.count()).select_from(Parcours)) == 1  # the fixture's only


def test_a_session_is_planned_with_its_duration_in_hours(client, volunteer, workshop):
    _, _, parcours, *_ = workshop
    form = client.get(f"/workshops/parcours/{parcours.id}/sessions/new").text
    assert 'name="host_relay_id"' not in form  # a relay holds its workshops for its own people
    r = client.post(f"/workshops/parcours/{parcours.id}/sessions/new",
                    data=session_data(volunteer, host_relay_id="999999"))  # not asked, so not taken
    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/parcours/{parcours.id}"
    session = db.session.scalars(select(WorkshopSession).order_by(WorkshopSession.id.desc())).first()
    assert (session.duration_minutes, session.start_time, session.capacity, session.laptops_planned) == (90, time(14), 8, 6)
    assert session.relay_id == session.host_relay_id == volunteer.relay_id


@pytest.mark.parametrize("field, value, message", [
    ("day", "", "Saisissez la date."),
    ("day", "31/02/2026", "date"),
    ("day", (TODAY + timedelta(days=800)).isoformat(), "Date non plausible"),
    ("start_time", "", "Saisissez l&#39;heure de début"),
    ("start_time", "25:00", "heure"),
    ("duration", "", "Saisissez la durée"),
    ("duration", "longtemps", "Durée non valide"),
    ("duration", "10", "entre 15 minutes et 8 heures"),
    ("duration", "9 h", "entre 15 minutes et 8 heures"),
    ("duration", "1 h 75", "59 minutes au plus"),
    ("commune", "", "Saisissez la commune."),
    ("venue", "", "Saisissez le lieu."),
    ("capacity", "", "Indiquez le nombre de places."),
    ("capacity", "0", "Entre 1 et 50 places."),
    ("laptops_planned", "9", "Pas plus d&#39;ordinateurs que de places."),
    ("facilitator_id", "999999", "N&#39;est pas un choix valide"),
])
def test_session_form_fails_in_place(client, volunteer, workshop, field, value, message):
    _, _, parcours, *_ = workshop
    r = client.post(f"/workshops/parcours/{parcours.id}/sessions/new", data=session_data(volunteer, **{field: value}))
    assert r.status_code == 422 and message in r.text
    assert db.session.scalar(select(func.count()).select_from(WorkshopSession)) == 1


def test_the_form_fragment_for_htmx_keeps_input(client, volunteer, workshop):
    _, _, parcours, *_ = workshop
    r = client.post(f"/workshops/parcours/{parcours.id}/sessions/new",
                    data=session_data(volunteer, commune=""), headers=PARTIAL)
    assert r.status_code == 422 and r.text.lstrip().startswith("<form") and 'value="Salle des fêtes"' in r.text


def test_capacity_cannot_drop_below_the_people_enrolled(client, volunteer, workshop):
    _, _, _, session, *_ = workshop
    r = client.post(f"/workshops/sessions/{session.id}/edit",
                    data=session_data(volunteer, capacity="1", laptops_planned="0"))
    assert r.status_code == 422 and "Déjà 2 personnes inscrites" in r.text


@pytest.mark.parametrize("typed, minutes", [("90", 90), ("90 min", 90), ("1 h 30", 90), ("1h30", 90), ("2 h", 120),
                                            ("2H", 120), ("45", 45), ("8 h", 480)])
def test_durations_are_typed_in_minutes_or_hours(typed, minutes):
    assert parse_duration(typed) == minutes


@pytest.mark.parametrize("minutes, shown", [(90, "1 h 30"), (120, "2 h"), (45, "45 min"), (0, "0 h"), (605, "10 h 05")])
def test_durations_read_in_french(minutes, shown):
    assert format_duration(minutes) == shown


def test_duplicating_a_session_plans_the_same_one_a_week_later(client, volunteer, workshop):
    _, _, _, session, *_ = workshop
    r = client.post(f"/workshops/sessions/{session.id}/duplicate")
    copy = db.session.scalars(select(WorkshopSession).order_by(WorkshopSession.id.desc())).first()
    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/sessions/{copy.id}/edit"
    assert copy.id != session.id and copy.day == session.day + timedelta(days=7)
    for name in ("parcours_id", "host_relay_id", "start_time", "duration_minutes", "commune", "venue",
                 "facilitator_id", "capacity"):
        assert getattr(copy, name) == getattr(session, name)
    assert "Séance du" in client.get(r.headers["Location"]).text


def test_lists_by_upcoming_past_and_facilitator(client, volunteer, workshop, make_user, make_workshop_session):
    relay, _, parcours, *_ = workshop
    other = make_user(Role.VOLUNTEER, relay=relay, display_name="Karim Benali")
    make_workshop_session(parcours, day=TODAY + timedelta(days=7), facilitator=other, commune="Le Monêtier")
    upcoming = client.get("/workshops/").text
    assert "Le Monêtier" in upcoming and "Névache" not in upcoming and "1 séance à venir" in upcoming
    assert "2 / 10" in upcoming  # enrolled / places
    past = client.get("/workshops/?when=past").text
    assert "Névache" in past and "Le Monêtier" not in past and "0 / 2" in past  # present / enrolled
    assert "Le Monêtier" in client.get(f"/workshops/?facilitator={other.id}").text
    assert "Le Monêtier" not in client.get(f"/workshops/?facilitator={volunteer.id}").text
    fragment = client.get("/workshops/?when=past", headers=PARTIAL)
    assert fragment.text.lstrip().startswith('<p class="muted" role="status">') and "<html" not in fragment.text


def test_coordinators_read_the_lists_of_their_territory_only(client, login, workshop, make_user, make_relay,
                                                            make_parcours, make_workshop_session):
    relay, _, parcours, session, people, _ = workshop
    elsewhere = make_workshop_session(make_parcours(make_relay(), title="Parcours d'ailleurs"), commune="Embrun")
    coordinator = make_user(Role.COORDINATOR, territory=relay.territory)
    login(coordinator)
    page = client.get("/workshops/?when=past").text
    assert "Névache" in page and "Démarches en ligne" in page and relay.name in page
    assert "Embrun" not in page and "Parcours d&#39;ailleurs" not in page
    assert people[0].full_name not in page and f"/workshops/sessions/{session.id}" not in page  # no names
    assert client.get(f"/workshops/?when=past&relay={relay.id}").status_code == 200
    assert client.get(f"/workshops/?relay={elsewhere.relay_id}").status_code == 404
    for url in (f"/workshops/sessions/{session.id}", f"/workshops/parcours/{parcours.id}"):
        assert client.get(url).status_code == 403


# --- attendance ------------------------------------------------------------------------------

def test_marking_without_javascript_goes_back_to_the_sheet(client, volunteer, workshop):
    _, _, _, session, people, _ = workshop
    r = client.post(f"/workshops/sessions/{session.id}/attendance/{people[0].id}", data={"status": "present"})
    assert r.status_code == 303
    assert r.headers["Location"] == f"/workshops/sessions/{session.id}#p{people[0].id}"
    assert marks(session) == {people[0].id: "present"}
    page = client.get(r.headers["Location"]).text
    assert f'id="m{people[0].id}-present" name="status" value="present" aria-pressed="true"' in page
    assert f'id="m{people[1].id}-present" name="status" value="present" aria-pressed="false"' in page
    assert "<strong>1</strong> présent·e ·" in page and "<strong>1</strong> non noté·e" in page
    assert "Олена Шевченко : présent·e." in page  # the flash


def test_marking_with_htmx_swaps_the_sheet_with_its_counts(client, volunteer, workshop):
    _, _, _, session, people, _ = workshop
    r = client.post(f"/workshops/sessions/{session.id}/attendance/{people[1].id}", data={"status": "excused"},
                    headers=PARTIAL)
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="attendance"')
    assert "<html" not in r.text and "<h1>" not in r.text
    assert "<strong>1</strong> excusé·e ·" in r.text and "<strong>1</strong> non noté·e" in r.text
    assert f'id="m{people[1].id}-excused" name="status" value="excused" aria-pressed="true"' in r.text
    assert "toast" in r.headers["HX-Trigger"] and r.headers["Cache-Control"] == "no-store"
    page = client.get(f"/workshops/sessions/{session.id}", headers=PARTIAL)  # the sheet's own fragment
    assert page.text.lstrip().startswith('<section id="attendance"')


def test_the_last_mark_wins(client, volunteer, workshop):
    _, _, _, session, people, _ = workshop
    url = f"/workshops/sessions/{session.id}/attendance/{people[0].id}"
    for status in ("absent", "present", "excused"):
        assert client.post(url, data={"status": status}, headers=PARTIAL).status_code == 200
    assert marks(session) == {people[0].id: "excused"}
    assert db.session.scalar(select(func.count()).select_from(Attendance)) == 1


def test_a_future_session_takes_only_excused_absences(client, volunteer, workshop, make_workshop_session):
    _, _, parcours, _, people, _ = workshop
    later = make_workshop_session(parcours, day=TODAY + timedelta(days=7))
    url = f"/workshops/sessions/{later.id}/attendance/{people[0].id}"
    r = client.post(url, data={"status": "present"}, headers=PARTIAL)
    assert r.status_code == 422 and "pas encore eu lieu" in r.text and marks(later) == {}
    assert client.post(url, data={"status": "excused"}).status_code == 303
    sheet = client.get(f"/workshops/sessions/{later.id}").text
    assert f'id="m{people[0].id}-present" name="status" value="present" aria-pressed="false" disabled>' in sheet
    assert f'id="m{people[0].id}-excused" name="status" value="excused" aria-pressed="true">' in sheet


def test_a_session_with_marks_does_not_move_ahead_of_today(client, volunteer, workshop):
    _, _, _, session, people, _ = workshop
    yesterday = session.day
    client.post(f"/workshops/sessions/{session.id}/attendance/{people[0].id}", data={"status": "present"})
    r = client.post(f"/workshops/sessions/{session.id}/edit", data=session_data(volunteer, laptops_planned="0"))
    assert r.status_code == 422 and "ne peut pas passer à une date à venir" in r.text
    db.session.expire_all()
    assert session.day == yesterday and marks(session) == {people[0].id: "present"}
    today = {"day": TODAY.isoformat(), "laptops_planned": "0"}
    assert client.post(f"/workshops/sessions/{session.id}/edit", data=session_data(volunteer, **today)).status_code == 303
    db.session.expire_all()
    assert session.day == TODAY


@pytest.mark.parametrize("status", ["", "late", "PRESENT"])
def test_an_unknown_mark_is_refused(client, volunteer, workshop, status):
    _, _, _, session, people, _ = workshop
    r = client.post(f"/workshops/sessions/{session.id}/attendance/{people[0].id}", data={"status": status})
    assert r.status_code == 422 and "Choisissez présent·e, absent·e ou excusé·e." in r.text and marks(session) == {}


def test_only_the_people_of_the_sheet_can_be_marked(client, volunteer, workshop, make_beneficiary, make_relay):
    _, _, _, session, _, outsider = workshop
    stranger = make_beneficiary(make_relay(), "Ahmad", "Karimi")
    for person in (outsider, stranger):
        r = client.post(f"/workshops/sessions/{session.id}/attendance/{person.id}", data={"status": "present"})
        assert r.status_code == 404
    assert marks(session) == {}


def test_hours_count_the_sessions_attended_only(workshop, make_workshop_session):
    _, volunteer, parcours, session, people, _ = workshop
    second = make_workshop_session(parcours, day=TODAY - timedelta(days=8), duration_minutes=90)
    third = make_workshop_session(parcours, day=TODAY - timedelta(days=15), duration_minutes=60)
    record_attendance(session, people[0], "present", volunteer)  # 120 min
    record_attendance(second, people[0], "present", volunteer)  # 90 min
    record_attendance(third, people[0], "absent", volunteer)
    record_attendance(third, people[1], "excused", volunteer)
    summary = {person.id: (sessions, minutes) for person, sessions, minutes in parcours_people(parcours)}
    assert summary == {people[0].id: (2, 210), people[1].id: (0, 0)}


# --- enrolment -------------------------------------------------------------------------------

def test_the_search_finds_only_the_host_relays_people(client, volunteer, workshop, make_beneficiary, make_relay):
    relay, _, parcours, *_ = workshop
    elsewhere = make_beneficiary(make_relay(territory=relay.territory), "Mamadou", "Diallo", phone="+33612345678")
    r = client.get(f"/workshops/parcours/{parcours.id}?q=diallo", headers=PARTIAL)
    assert r.status_code == 200 and r.text.lstrip().startswith('<ul class="picks">') and "<html" not in r.text
    assert r.text.count("Mamadou Diallo") == 2  # the name, and the button's label for screen readers
    assert elsewhere.code not in r.text
    assert "Aucune personne trouvée" in client.get(f"/workshops/parcours/{parcours.id}?q=0612345678",
                                                   headers=PARTIAL).text
    assert "inscrit·e" in client.get(f"/workshops/parcours/{parcours.id}?q=yonas", headers=PARTIAL).text


def test_enrolling_without_javascript_and_with_htmx(client, volunteer, workshop, make_beneficiary):
    relay, _, parcours, _, _, outsider = workshop
    r = client.post(f"/workshops/parcours/{parcours.id}/enrolments", data={"beneficiary_id": outsider.id, "q": "dia"})
    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/parcours/{parcours.id}?q=dia#enrolment"
    assert "Mamadou Diallo est inscrit·e." in client.get(r.headers["Location"]).text
    other = make_beneficiary(relay, "Aïssatou", "Bah")
    r = client.post(f"/workshops/parcours/{parcours.id}/enrolments", data={"beneficiary_id": other.id},
                    headers=PARTIAL)
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="enrolment"')
    assert "Participant·es (4)" in r.text and "toast" in r.headers["HX-Trigger"]
    again = client.post(f"/workshops/parcours/{parcours.id}/enrolments", data={"beneficiary_id": other.id})
    assert again.status_code == 422 and "déjà inscrit·e" in again.text


def test_another_relays_person_cannot_be_enrolled(client, volunteer, workshop, make_beneficiary, make_relay):
    _, _, parcours, *_ = workshop
    stranger = make_beneficiary(make_relay(), "Ahmad", "Karimi")
    r = client.post(f"/workshops/parcours/{parcours.id}/enrolments", data={"beneficiary_id": stranger.id})
    assert r.status_code == 422 and "Personne introuvable" in r.text
    assert db.session.scalar(select(Enrolment).where(Enrolment.beneficiary_id == stranger.id)) is None


def test_a_full_parcours_refuses_one_more(client, volunteer, workshop, make_beneficiary):
    relay, _, parcours, session, _, outsider = workshop
    session.capacity = 3
    db.session.commit()
    assert client.post(f"/workshops/parcours/{parcours.id}/enrolments",
                       data={"beneficiary_id": outsider.id}).status_code == 303
    assert "<strong>complet</strong>" in client.get(f"/workshops/parcours/{parcours.id}").text
    late = make_beneficiary(relay, "Selam", "Haile")
    r = client.post(f"/workshops/parcours/{parcours.id}/enrolments", data={"beneficiary_id": late.id})
    assert r.status_code == 422 and "Le parcours est complet" in r.text
    r = client.post(f"/workshops/parcours/{parcours.id}/people",
                    data={"first_name": "Farid", "last_name": "Sultani", "notice_given": "y"})
    assert r.status_code == 422 and "Le parcours est complet" in r.text
    assert db.session.scalar(select(Beneficiary).where(Beneficiary.first_name == "Farid")) is None  # nor a record


def test_a_new_person_is_created_and_enrolled_on_the_spot(app, client, volunteer, workshop):
    relay, _, parcours, *_ = workshop
    r = client.post(f"/workshops/parcours/{parcours.id}/people", headers=PARTIAL,
                    data={"first_name": "Farid", "last_name": "Sultani", "phone": "06 12 34 56 78",
                          "notice_given": "y"})
    assert r.status_code == 200 and r.text.lstrip().startswith('<section id="enrolment"')
    person = db.session.scalar(select(Beneficiary).where(Beneficiary.first_name == "Farid"))
    assert person.relay_id == relay.id and person.phone == "+33612345678" and person.code.startswith("B-")
    assert person.notice_given_on and person.notice_version == app.config["NOTICE_VERSION"]
    assert db.session.scalar(select(Enrolment).where(Enrolment.beneficiary_id == person.id)) is not None
    assert "Farid Sultani" in r.text and "Participant·es (3)" in r.text


@pytest.mark.parametrize("field, value, message", [
    ("first_name", "", "Saisissez le prénom."),
    ("last_name", "", "Saisissez le nom, ou un pseudonyme"),
    ("phone", "12", "Numéro de téléphone non valide"),
    ("notice_given", "", "Informez la personne"),
])
def test_the_quick_record_fails_in_place(client, volunteer, workshop, field, value, message):
    _, _, parcours, *_ = workshop
    data = {"first_name": "Farid", "last_name": "Sultani", "phone": "", "notice_given": "y"} | {field: value}
    r = client.post(f"/workshops/parcours/{parcours.id}/people", data=data, headers=PARTIAL)
    assert r.status_code == 422 and message in r.text and r.text.lstrip().startswith('<section id="enrolment"')
    assert db.session.scalar(select(Beneficiary).where(Beneficiary.first_name == "Farid")) is None


def test_the_quick_record_asks_before_creating_a_likely_duplicate(client, volunteer, workshop):
    _, _, parcours, _, _, outsider = workshop
    data = {"first_name": "mamadou", "last_name": "DIALLO", "notice_given": "y"}
    r = client.post(f"/workshops/parcours/{parcours.id}/people", data=data)
    assert r.status_code == 422 and outsider.code in r.text and "cochez cette case" in r.text
    assert client.post(f"/workshops/parcours/{parcours.id}/people",
                       data=data | {"confirm_duplicate": "y"}).status_code == 303
    assert db.session.scalar(select(func.count()).where(Beneficiary.last_key == "diallo")) == 2


def test_unenrolling_is_refused_once_the_person_attended(client, volunteer, workshop):
    _, _, parcours, session, people, _ = workshop
    record_attendance(session, people[1], "absent", volunteer)
    record_attendance(session, people[0], "present", volunteer)
    r = client.post(f"/workshops/parcours/{parcours.id}/enrolments/{people[0].id}/delete", headers=PARTIAL)
    assert r.status_code == 422 and "a déjà assisté à une séance" in r.text
    r = client.post(f"/workshops/parcours/{parcours.id}/enrolments/{people[1].id}/delete")
    assert r.status_code == 303
    assert {e.beneficiary_id for e in db.session.scalars(select(Enrolment))} == {people[0].id}
    assert marks(session) == {people[0].id: "present"}  # the absence went with the enrolment


# --- the mobile team -------------------------------------------------------------------------

@pytest.fixture
def mobile(workshop, make_relay, make_user, make_parcours, make_workshop_session, make_beneficiary):
    """The territory's mobile team holding a session of its parcours for the workshop's relay,
    with one of its people enrolled; a second relay of the territory."""
    relay, _, _, _, people, _ = workshop
    team = make_relay(relay.territory, name="Équipe mobile numérique 05", is_mobile_team=True)
    facilitator = make_user(Role.VOLUNTEER, relay=team, display_name="Inès Mobile")
    parcours = make_parcours(team, title="Smartphone en vallée")
    session = make_workshop_session(parcours, host=relay, facilitator=facilitator, commune="Névache")
    enrol(parcours, people[0].id, relay.id, facilitator)
    neighbour = make_relay(relay.territory, name="Refuges Solidaires")
    return team, facilitator, parcours, session, neighbour


def test_the_mobile_team_takes_attendance_of_the_host_relays_people(client, login, workshop, mobile):
    relay, _, _, own_session, people, outsider = workshop
    team, facilitator, parcours, session, _ = mobile
    login(facilitator)
    sheet = client.get(f"/workshops/sessions/{session.id}").text
    assert people[0].full_name in sheet and people[1].full_name not in sheet  # enrolled in this parcours only
    assert f"/beneficiaries/{people[0].id}" not in sheet
    r = client.post(f"/workshops/sessions/{session.id}/attendance/{people[0].id}", data={"status": "present"})
    assert r.status_code == 303 and marks(session) == {people[0].id: "present"}
    assert people[0].full_name in client.get(f"/workshops/sessions/{session.id}/sheet").text
    # Never the relay's own sessions, people or list.
    for url in (f"/workshops/sessions/{own_session.id}", f"/beneficiaries/{people[0].id}",
                f"/workshops/parcours/{workshop[2].id}"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/workshops/sessions/{own_session.id}/attendance/{people[0].id}",
                       data={"status": "present"}).status_code == 404
    assert outsider.full_name not in client.get("/beneficiaries/?q=diallo").text


def test_the_mobile_team_searches_and_creates_people_of_the_host_relay(client, login, workshop, mobile,
                                                                     make_beneficiary):
    relay, *_ = workshop
    team, facilitator, parcours, _, neighbour = mobile
    make_beneficiary(neighbour, "Mamadou", "Diallo")
    login(facilitator)
    found = client.get(f"/workshops/parcours/{parcours.id}?q=diallo", headers=PARTIAL).text
    assert found.count("Mamadou Diallo") == 2  # one person, the host relay's: not the neighbour's
    r = client.post(f"/workshops/parcours/{parcours.id}/people",
                    data={"first_name": "Senait", "last_name": "Kidane", "notice_given": "y"})
    assert r.status_code == 303
    person = db.session.scalar(select(Beneficiary).where(Beneficiary.first_name == "Senait"))
    assert person.relay_id == relay.id and person.created_by_id == facilitator.id


def test_a_mobile_team_chooses_the_relay_it_works_for(client, login, workshop, mobile, make_relay):
    relay, *_ = workshop
    team, facilitator, parcours, _, neighbour = mobile
    far = make_relay(name="Relais d'un autre département")
    login(facilitator)
    form = client.get(f"/workshops/parcours/{parcours.id}/sessions/new").text
    assert relay.name in form and neighbour.name in form and far.name not in form
    assert f'<option value="{team.id}"' not in form  # never for itself
    for refused in (far, team):
        r = client.post(f"/workshops/parcours/{parcours.id}/sessions/new",
                        data=session_data(facilitator, host_relay_id=str(refused.id)))
        assert r.status_code == 422 and "N&#39;est pas un choix valide" in r.text
    r = client.post(f"/workshops/parcours/{parcours.id}/sessions/new",
                    data=session_data(facilitator, host_relay_id=str(neighbour.id)))
    assert r.status_code == 303
    assert db.session.scalar(select(WorkshopSession.host_relay_id).order_by(WorkshopSession.id.desc())) == neighbour.id


def test_a_mobile_team_parcours_waits_for_a_session_to_enrol(client, login, mobile, make_parcours):
    team, facilitator, *_ = mobile
    parcours = make_parcours(team, title="Sans séance")
    login(facilitator)
    assert "Planifiez d&#39;abord une séance" in client.get(f"/workshops/parcours/{parcours.id}").text
    r = client.post(f"/workshops/parcours/{parcours.id}/people", data={"first_name": "A", "last_name": "B"})
    assert r.status_code == 422 and "Planifiez d&#39;abord une séance" in r.text


def test_the_host_relay_sees_and_marks_the_mobile_session_but_does_not_change_it(client, login, workshop,
                                                                                 mobile):
    _, volunteer, _, _, people, _ = workshop
    _, _, parcours, session, neighbour = mobile
    login(volunteer)
    assert "Smartphone en vallée" in client.get("/workshops/?when=past").text
    assert client.get(f"/workshops/sessions/{session.id}").status_code == 200
    assert client.post(f"/workshops/sessions/{session.id}/attendance/{people[0].id}",
                       data={"status": "absent"}).status_code == 303
    assert client.get(f"/workshops/sessions/{session.id}/edit").status_code == 403
    assert client.post(f"/workshops/sessions/{session.id}/duplicate").status_code == 403
    assert client.get(f"/workshops/parcours/{parcours.id}").status_code == 404


def test_another_relay_of_the_territory_sees_nothing_of_the_mobile_session(client, login, mobile, make_user):
    _, _, _, session, neighbour = mobile
    login(make_user(Role.MANAGER, relay=neighbour))
    assert client.get(f"/workshops/sessions/{session.id}").status_code == 404
    assert client.get(f"/workshops/sessions/{session.id}/sheet.pdf").status_code == 404
    assert "Smartphone en vallée" not in client.get("/workshops/?when=past").text


def test_the_relay_form_marks_a_mobile_team(client, login, make_user, make_relay):
    relay = make_relay()
    login(make_user(Role.ADMIN))
    data = {"name": relay.name, "organisation": "", "town": "Gap", "code": relay.code, "address": "",
            "legal_mention": "", "receipt_format": "A5", "territory_id": relay.territory_id,
            "is_mobile_team": "y", "active": "y"}
    assert client.post(f"/relays/{relay.id}/edit", data=data).status_code == 303
    db.session.refresh(relay)
    assert relay.is_mobile_team


# --- the printed sheet, the profile, the demo -------------------------------------------------

def test_the_attendance_sheet_prints_names_and_a_signature_column(client, volunteer, workshop):
    _, _, _, session, people, _ = workshop
    r = client.get(f"/workshops/sessions/{session.id}/sheet.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf" and r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Disposition"] == f'inline; filename="emargement-{session.id}-{session.day}.pdf"'
    reader = PdfReader(io.BytesIO(r.data))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    for expected in ("Feuille d’émargement", "Démarches en ligne", "Signature", "Nom et prénom",
                     "Salle des fêtes, Névache", "14 h 00 (2 h)", "Claire Martin", "Олена Шевченко", "Yonas Tesfay",
                     "Démarches administratives en ligne"):
        assert expected in text, expected
    assert reader.pages[0].mediabox.width == pytest.approx(595, abs=2)  # A4
    twin = client.get(f"/workshops/sessions/{session.id}/sheet")
    assert twin.status_code == 200 and "Signature" in twin.text and 'data-page="A4"' in twin.text


def test_the_sheet_context_holds_plain_values(app, workshop):
    session = workshop[3]
    context = attendance_sheet_context(session)
    assert_plain(context)
    assert context["people"] == ["Yonas Tesfay", "Олена Шевченко"]  # by last name, as on the sheet
    assert (context["number"], context["planned"], context["host"]) == (1, 4, None)


def test_the_profile_lists_the_persons_workshops(client, volunteer, workshop):
    _, _, parcours, session, people, _ = workshop
    record_attendance(session, people[0], "present", volunteer)
    page = client.get(f"/beneficiaries/{people[0].id}").text
    assert "<h2>Ateliers</h2>" in page and f'href="/workshops/parcours/{parcours.id}">Démarches en ligne</a>' in page
    assert "1 séance suivie (2 h)" in page and "Démarches en ligne, Névache : présent·e" in page
    assert "Aucun atelier." in client.get(f"/beneficiaries/{workshop[5].id}").text


def test_the_demo_holds_workshops_across_the_valleys(app):
    assert seed_demo()
    assert db.session.scalar(select(func.count()).select_from(Parcours)) == 2
    communes = set(db.session.scalars(select(WorkshopSession.commune)))
    assert {"Gap", "Briançon", "Névache"} <= communes
    assert db.session.scalar(select(func.count()).where(Attendance.status == "present")) > 0
    assert db.session.scalar(select(Relay.is_mobile_team).where(Relay.code == "EQMOB"))


def test_enrolling_twice_is_refused_in_french(workshop):
    _, volunteer, parcours, _, people, _ = workshop
    with pytest.raises(Refused, match="Олена Шевченко est déjà inscrit·e à ce parcours."):
        enrol(parcours, people[0].id, parcours.relay_id, volunteer)
