"""Beneficiaries: onboarding, duplicates, search, profile, eligibility, edit trail, privacy rights."""
import json
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from portal import clock
from portal.audit.models import AuditEvent
from portal.beneficiaries.models import Beneficiary, BeneficiaryEvent
from portal.beneficiaries.operations import add_months
from portal.beneficiaries.queries import fold
from portal.extensions import db
from portal.security import Role

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)

PARTIAL = {"HX-Request": "true", "HX-Request-Type": "partial"}
TODAY = datetime.now(ZoneInfo("Europe/Paris")).date()  # the portal's day at import (TIMEZONE), not the machine's


def onboarding(**overrides):
    data = {
        "first_name": "Олена", "last_name": "Шевченко", "phone": "06 12 34 56 78",
        "email": "", "birth_year": "1987", "languages": ["ukrainien", "russe"], "other_languages": "",
        "commune": "Gap", "eligibility_basis": "asylum", "referrer_type": "", "referrer_name": "",
        "eligibility_verified_on": clock.today().isoformat(), "need_connection": "y",
        "autonomy": ["0"], "notes": "", "notice_given": "y",
    }
    return data | overrides


@pytest.fixture
def volunteer(make_user, login):
    user = make_user(Role.VOLUNTEER, display_name="Claire")
    login(user)
    return user


def people():
    return db.session.scalars(db.select(Beneficiary).order_by(Beneficiary.id)).all()


# --- onboarding ---------------------------------------------------------------------------

def test_onboarding_creates_a_record_with_a_code_and_redirects_to_it(client, volunteer):
    r = client.post("/beneficiaries/new", data=onboarding())
    assert r.status_code == 303
    (person,) = people()
    assert r.headers["Location"] == f"/beneficiaries/{person.id}"
    assert person.first_name == "Олена" and person.last_name == "Шевченко"  # stored as typed
    assert person.relay_id == volunteer.relay_id and person.phone == "+33612345678"
    assert len(person.code) == 6 and person.code.startswith("B-")
    assert not set(person.code[2:]) & set("01OIL")
    assert person.languages == "ukrainien, russe" and person.autonomy == "100" and person.autonomy_level == 2
    assert person.eligibility_until == add_months(clock.today(), 9)
    assert person.eligibility_verified_by_id == volunteer.id
    assert person.notice_given_on == clock.today() and person.notice_version
    page = client.get(r.headers["Location"]).text
    assert "Олена Шевченко" in page and person.code in page and "06 12 34 56 78" in page
    assert "Fiche créée" in page and "Valide jusqu" in page


def test_international_phone_is_accepted_and_normalised(client, volunteer):
    client.post("/beneficiaries/new", data=onboarding(phone="+380 67 123 4567"))
    assert people()[0].phone == "+380671234567"


@pytest.mark.parametrize("field, value, message", [
    ("first_name", "", "Saisissez le prénom."),
    ("first_name", "x" * 81, "80 caractères au plus."),
    ("first_name", "1234", "Saisissez au moins une lettre."),
    ("first_name", "Ali\u202eila", "caractères invisibles"),
    ("last_name", "", "Saisissez le nom, ou un pseudonyme"),
    ("phone", "12", "Numéro de téléphone non valide"),
    ("phone", "06 12 34", "Numéro de téléphone non valide"),
    ("email", "pas-une-adresse", "Adresse e-mail non valide."),
    ("birth_year", "1890", "Année non plausible"),
    ("birth_year", str(TODAY.year), "Année non plausible"),
    ("birth_year", "mille", "Saisissez l&#39;année en chiffres"),
    ("languages", ["klingon"], "klingon"),
    ("other_languages", "x" * 81, "80 caractères au plus."),
    ("commune", "c" * 81, "80 caractères au plus."),
    ("eligibility_basis", "rich", "N&#39;est pas un choix valide"),
    ("eligibility_verified_on", (TODAY + timedelta(days=1)).isoformat(), "dans le futur"),
    ("eligibility_verified_on", "", "Indiquez la date de la vérification."),
    ("eligibility_verified_on", "31/02/2026", "N&#39;est pas une date valide."),
    ("notes", "n" * 501, "500 caractères au plus."),
    ("notice_given", "", "Informez la personne"),
])
def test_onboarding_validation(client, volunteer, field, value, message):
    data = onboarding(**{field: value})
    if value == "":
        data.pop(field)
    r = client.post("/beneficiaries/new", data=data)
    assert r.status_code == 422
    assert message in r.text
    assert people() == []
    assert 'value="Шевченко"' in r.text or field == "last_name"  # the rest of the input is kept


def test_referred_person_needs_the_referrer_type(client, volunteer):
    r = client.post("/beneficiaries/new", data=onboarding(eligibility_basis="referred"))
    assert r.status_code == 422 and "Indiquez qui a orienté la personne." in r.text
    r = client.post("/beneficiaries/new", data=onboarding(eligibility_basis="referred", referrer_type="ccas",
                                                          referrer_name="CCAS de Gap"))
    assert r.status_code == 303 and people()[0].referrer_type == "ccas"


def test_a_person_without_eligibility_can_be_onboarded(client, volunteer):
    r = client.post("/beneficiaries/new", data=onboarding(eligibility_basis="", eligibility_verified_on=""))
    assert r.status_code == 303
    assert people()[0].eligibility_until is None
    assert "Non vérifiée" in client.get(r.headers["Location"]).text


@pytest.mark.parametrize("name", ["محمد نادری", "ሰላም ተስፋይ", "Zoé Lefèvre-Ångström", "فرشته\u200cاحمدزی"])
def test_any_script_is_stored_as_typed(client, volunteer, name):
    first, _, last = name.partition(" ")
    client.post("/beneficiaries/new", data=onboarding(first_name=first, last_name=last or "X", phone=""))
    assert people()[0].first_name == first


# --- duplicates ---------------------------------------------------------------------------

@pytest.mark.parametrize("first, last, phone", [
    ("olena", "SHEVCHENKO ", ""),            # case and spaces
    ("Oléna", "Shevchénko", ""),             # accents
    ("Shevchenko", "Olena", ""),             # swapped
    ("Ole na", "Shev chenko", ""),           # inner spaces
    ("Olen", "Shevchenko", ""),              # first name starting alike
    ("Quelqu'un", "d'autre", "+33 6 12 34 56 78"),  # same phone, written differently
])
def test_possible_duplicates_while_typing(client, volunteer, make_beneficiary, first, last, phone):
    existing = make_beneficiary(volunteer.relay, "Olena", "Shevchenko", phone="+33612345678")
    params = {"first_name": first, "last_name": last, "phone": phone}
    fragment = client.get("/beneficiaries/new", query_string=params, headers=PARTIAL)
    assert fragment.status_code == 200
    assert "Cette personne a peut-être déjà une fiche" in fragment.text
    assert existing.code in fragment.text and "<html" not in fragment.text
    page = client.get("/beneficiaries/new", query_string=params)  # the same URL works as a page
    assert "<html" in page.text and existing.code in page.text


def test_no_duplicate_warning_for_a_different_person_or_another_relay(client, volunteer, make_beneficiary):
    make_beneficiary(None, "Olena", "Shevchenko")  # another relay
    make_beneficiary(volunteer.relay, "Yonas", "Tesfay")
    fragment = client.get("/beneficiaries/new", query_string={"first_name": "Olena", "last_name": "Shevchenko"},
                          headers=PARTIAL)
    assert "déjà une fiche" not in fragment.text


def test_creating_a_duplicate_needs_a_confirmation(client, volunteer, make_beneficiary):
    make_beneficiary(volunteer.relay, "Олена", "Шевченко")
    r = client.post("/beneficiaries/new", data=onboarding(first_name="олена", phone=""))
    assert r.status_code == 422
    assert "déjà une fiche" in r.text and "Vérifiez les fiches proches" in r.text
    assert len(people()) == 1
    r = client.post("/beneficiaries/new", data=onboarding(first_name="олена", phone="", confirm_duplicate="y"))
    assert r.status_code == 303 and len(people()) == 2


def test_the_form_fragment_for_htmx_keeps_input(client, volunteer):
    r = client.post("/beneficiaries/new", data=onboarding(first_name=""), headers=PARTIAL)
    assert r.status_code == 422
    assert r.text.lstrip().startswith("<form") and 'value="Шевченко"' in r.text


def test_fold_ignores_case_accents_and_spaces():
    assert fold("  Éléonore  d'Arc ") == "eleonoredarc"
    assert fold("ОЛЕНА") == fold("олена")
    assert fold("Shevchénko") == "shevchenko"


# --- list and search ----------------------------------------------------------------------

@pytest.fixture
def relay_people(volunteer, make_beneficiary):
    return {
        "olena": make_beneficiary(volunteer.relay, "Олена", "Шевченко", phone="+33612345678"),
        "mohammad": make_beneficiary(volunteer.relay, "Mohammad", "Naderi"),
        "zoe": make_beneficiary(volunteer.relay, "Zoé", "Lefèvre-Martin"),
        "elsewhere": make_beneficiary(None, "Mohammad", "Naderi"),
    }


@pytest.mark.parametrize("query, expected", [
    ("", {"olena", "mohammad", "zoe"}),
    ("moh", {"mohammad"}),
    ("NADERI mohammad", {"mohammad"}),
    ("zoe", {"zoe"}),
    ("martin", {"zoe"}),
    ("олен", {"olena"}),
    ("06 12 34 56 78", {"olena"}),
    ("xyz", set()),
])
def test_search_by_name_phone(client, relay_people, query, expected):
    page = client.get("/beneficiaries/", query_string={"q": query}).text
    found = {key for key, p in relay_people.items() if f"/beneficiaries/{p.id}\"" in page}
    assert found == expected


def test_search_by_code_with_or_without_prefix(client, relay_people):
    code = relay_people["zoe"].code
    for query in (code, code.lower(), code[2:]):
        page = client.get("/beneficiaries/", query_string={"q": query}).text
        assert f"/beneficiaries/{relay_people['zoe'].id}\"" in page


def test_search_fragment_and_pagination(app, client, volunteer, make_beneficiary):
    app.config["BENEFICIARIES_PER_PAGE"] = 2
    for i in range(5):
        make_beneficiary(volunteer.relay, f"Ahmad{i}", "Karimi")
    fragment = client.get("/beneficiaries/?q=karimi&page=3", headers=PARTIAL)
    assert fragment.text.lstrip().startswith('<p class="muted" role="status">') and "<html" not in fragment.text
    assert "5 personnes" in fragment.text and "Page 3 / 3" in fragment.text
    assert fragment.headers["Cache-Control"] == "no-store"


# --- profile, eligibility, edit -----------------------------------------------------------

@pytest.mark.parametrize("days_left, status", [(100, "Valide jusqu"), (10, "Expire le"), (-1, "Expirée le")])
def test_eligibility_status_on_profile(client, volunteer, make_beneficiary, days_left, status):
    person = make_beneficiary(volunteer.relay, eligible_on=True)
    person.eligibility_until = clock.today() + timedelta(days=days_left)
    db.session.commit()
    page = client.get(f"/beneficiaries/{person.id}").text
    assert status in page
    assert ("Renouveler l&#39;éligibilité" in page) == (days_left < 30)


def test_renewal_extends_and_is_limited(app, client, volunteer, make_beneficiary):
    person = make_beneficiary(volunteer.relay, eligible_on=True)
    person.eligibility_until = clock.today() - timedelta(days=3)
    db.session.commit()
    for expected_renewals in (1, 2):
        assert client.post(f"/beneficiaries/{person.id}/renew").status_code == 303
        assert person.eligibility_renewals == expected_renewals
    assert person.eligibility_until == add_months(add_months(clock.today(), 9), 9)
    client.post(f"/beneficiaries/{person.id}/renew")
    assert person.eligibility_renewals == 2  # ELIGIBILITY_MAX_RENEWALS reached
    assert "Nombre maximal de renouvellements atteint" in client.get(f"/beneficiaries/{person.id}").text


def test_edit_records_who_changed_which_fields_not_the_values(client, volunteer, make_beneficiary):
    person = make_beneficiary(volunteer.relay, "Amina", "Diallo", phone="+33612345678")
    data = onboarding(first_name="Aminata", last_name="Barry", phone="06 12 34 56 78", commune="Embrun")
    assert client.post(f"/beneficiaries/{person.id}/edit", data=data).status_code == 303
    assert person.first_name == "Aminata" and person.commune == "Embrun"
    event = db.session.scalars(db.select(BeneficiaryEvent).filter_by(kind="updated")).one()
    assert event.user_id == volunteer.id
    assert "prénom" in event.detail and "commune" in event.detail and "téléphone" not in event.detail
    assert "Amina" not in event.detail and "Embrun" not in event.detail
    assert "Fiche modifiée" in client.get(f"/beneficiaries/{person.id}").text
    # the new name is searchable, the old one is not
    assert person.code in client.get("/beneficiaries/?q=barry").text
    assert person.code not in client.get("/beneficiaries/?q=diallo").text


def test_edit_form_shows_current_values(client, volunteer, make_beneficiary):
    person = make_beneficiary(volunteer.relay, "Amina", "Diallo", languages="peul, soussou, wolof", autonomy="011")
    page = client.get(f"/beneficiaries/{person.id}/edit").text
    assert 'value="wolof"' in page and 'value="Amina"' in page
    assert 'checked id="languages-9" name="languages" type="checkbox" value="peul"' in page or \
        ('value="peul"' in page and "checked" in page)


# --- privacy ------------------------------------------------------------------------------

def test_personal_pages_are_never_cached(client, volunteer, make_beneficiary):
    person = make_beneficiary(volunteer.relay)
    for url in ("/beneficiaries/", f"/beneficiaries/{person.id}", f"/beneficiaries/{person.id}/edit",
                "/beneficiaries/new", f"/beneficiaries/{person.id}/export.json"):
        assert client.get(url).headers["Cache-Control"] == "no-store", url


def test_coordinators_and_admins_see_no_beneficiary_page(client, login, make_user, make_beneficiary):
    coordinator = make_user(Role.COORDINATOR)
    person = make_beneficiary()
    login(coordinator)
    assert client.get("/beneficiaries/").status_code == 403
    assert client.get(f"/beneficiaries/{person.id}").status_code == 403


def test_export_json_holds_the_persons_data_and_is_logged(client, volunteer, make_beneficiary):
    person = make_beneficiary(volunteer.relay, "Олена", "Шевченко", phone="+33612345678", eligible_on=True)
    r = client.get(f"/beneficiaries/{person.id}/export.json")
    assert r.headers["Content-Disposition"] == f'attachment; filename="donnees-{person.code}.json"'
    data = json.loads(r.text)
    assert data["prénom"] == "Олена" and data["téléphone"] == "+33612345678" and data["code"] == person.code
    assert data["éligibilité"]["valable jusqu'au"] == str(person.eligibility_until)
    assert db.session.scalar(db.select(AuditEvent.detail).filter_by(action="beneficiary.export")) == "json"
    assert "Données exportées" in client.get(f"/beneficiaries/{person.id}").text


def test_anonymise_needs_a_manager_and_the_code(client, login, make_user, make_beneficiary):
    manager = make_user(Role.MANAGER)
    person = make_beneficiary(manager.relay, "Olena", "Shevchenko", phone="+33612345678",
                              email="o@example.org", notes="parle peu français", birth_year=1987)
    login(manager)
    r = client.post(f"/beneficiaries/{person.id}/anonymise", data={"confirm": "B-WRONG"})
    assert r.status_code == 422 and "Recopiez le code" in r.text and person.anonymised_at is None
    r = client.post(f"/beneficiaries/{person.id}/anonymise", data={"confirm": person.code})
    assert r.status_code == 303
    assert person.anonymised_at is not None
    assert "Olena" not in person.full_name and person.phone is None and person.email is None
    assert person.notes == "" and person.birth_year == 1980 and person.code
    assert db.session.scalar(db.select(AuditEvent.action).filter_by(action="beneficiary.anonymise"))


def test_anonymised_person_is_unfindable_but_still_counted(client, login, make_user, make_beneficiary):
    manager = make_user(Role.MANAGER)
    person = make_beneficiary(manager.relay, "Olena", "Shevchenko", phone="+33612345678")
    make_beneficiary(manager.relay, "Yonas", "Tesfay")
    login(manager)
    client.post(f"/beneficiaries/{person.id}/anonymise", data={"confirm": person.code})
    for query in ("olena", "shevchenko", "06 12 34 56 78"):
        assert f"/beneficiaries/{person.id}\"" not in client.get("/beneficiaries/", query_string={"q": query}).text
    dupes = client.get("/beneficiaries/new", query_string={"first_name": "Olena", "last_name": "Shevchenko"},
                       headers=PARTIAL).text
    assert person.code not in dupes
    assert "2 personnes" in client.get("/beneficiaries/").text  # counts stay
    assert client.get(f"/beneficiaries/{person.id}/edit").status_code == 404
    assert "Fiche anonymisée" in client.get(f"/beneficiaries/{person.id}").text


def test_volunteer_cannot_anonymise(client, volunteer, make_beneficiary):
    person = make_beneficiary(volunteer.relay)
    assert client.post(f"/beneficiaries/{person.id}/anonymise", data={"confirm": person.code}).status_code == 403


# --- retention ----------------------------------------------------------------------------

def test_anonymize_stale_dry_run_then_for_real(runner, make_beneficiary):
    old = make_beneficiary(None, "Ancienne", "Personne")
    recent = make_beneficiary(old.relay, "Récente", "Personne")
    old.last_activity_at -= timedelta(days=3 * 366)  # three years back (on 29 February too)
    db.session.commit()
    dry = runner.invoke(args=["anonymize-stale", "--dry-run"])
    assert dry.exit_code == 0
    assert old.code in dry.output and recent.code not in dry.output and "Ancienne" not in dry.output
    assert "1 fiche(s) sans activité depuis 24 mois seraient anonymisées." in dry.output
    db.session.expire_all()
    assert old.anonymised_at is None  # nothing changed
    real = runner.invoke(args=["anonymize-stale"])
    assert real.exit_code == 0 and "1 fiche(s)" in real.output
    db.session.expire_all()
    assert old.anonymised_at is not None and old.first_name != "Ancienne"
    assert recent.anonymised_at is None
    assert "0 fiche(s)" in runner.invoke(args=["anonymize-stale"]).output


def test_export_pdf_reads_back_with_the_persons_data(client, volunteer, make_beneficiary):
    from io import BytesIO

    from pypdf import PdfReader

    person = make_beneficiary(volunteer.relay, "Олена", "Шевченко", phone="+33612345678", eligible_on=True)
    r = client.get(f"/beneficiaries/{person.id}/export.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Cache-Control"] == "no-store"
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(r.data)).pages)
    for expected in ("Олена", "Шевченко", person.code, "+33612345678", volunteer.relay.name, "Fiche créée"):
        assert expected in text
    assert db.session.scalar(db.select(AuditEvent.detail).filter_by(action="beneficiary.export")) == "pdf"


def test_notice_pdf_and_its_html_twin(client, volunteer):
    from io import BytesIO

    from pypdf import PdfReader

    r = client.get("/beneficiaries/notice.pdf")
    text = "".join(page.extract_text() for page in PdfReader(BytesIO(r.data)).pages)
    assert volunteer.relay.name in text and "24" in text and "2026-11" in text
    twin = client.get("/beneficiaries/notice")
    assert twin.mimetype == "text/html" and "Notice d’information sur vos données" in twin.text
