"""Attendance certificates: the facts from present marks only, a new certificate only when they
change, the printed page (text, scripts, one page each, prints counted), the public verification
page that tells no name, and who may issue and print them."""
import base64
import io
import logging
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fontTools.ttLib import TTFont
from pypdf import PdfReader
from sqlalchemy import func, select

from portal.audit.models import AuditEvent
from portal.beneficiaries.operations import anonymise
from portal.certificates.documents import certificate_context, certificates_pdf, qr_png, verify_url
from portal.certificates.models import Certificate
from portal.certificates.operations import initials, issue_certificate, issue_group, normalise_code
from portal.errors import Refused
from portal.extensions import db
from portal.security import Role
from portal.workshops.operations import enrol, record_attendance
from tests.test_pdf import FONTS, dejavu_path, pdf_font_names
from tests.test_receipt import assert_plain

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)

TODAY = datetime.now(ZoneInfo("Europe/Paris")).date()  # the portal's day (TIMEZONE), not the machine's
ARABIC, GEEZ = ("محمد", "نادری"), ("ሰላም", "ተስፋይ")


@pytest.fixture
def course(make_relay, make_user, make_parcours, make_workshop_session, make_beneficiary):
    """A relay, two facilitators, a parcours of four past sessions (2 h, 1 h 30, 2 h, 2 h); Olena
    present at the first two, absent at the third, excused at the fourth; Yonas present at the
    first; Mamadou enrolled, never marked."""
    relay = make_relay(name="CADA Briançon", town="Briançon")
    volunteer = make_user(Role.VOLUNTEER, relay=relay, display_name="Claire Martin")
    other = make_user(Role.VOLUNTEER, relay=relay, display_name="Yusuf Ahmadi")
    parcours = make_parcours(relay, title="Démarches en ligne", themes="procedures,email")
    sessions = [
        make_workshop_session(parcours, day=TODAY - timedelta(days=10), facilitator=volunteer, commune="Briançon"),
        make_workshop_session(parcours, day=TODAY - timedelta(days=8), facilitator=other, duration_minutes=90,
                              commune="Névache", venue="Salle des fêtes"),
        make_workshop_session(parcours, day=TODAY - timedelta(days=6), facilitator=volunteer),
        make_workshop_session(parcours, day=TODAY - timedelta(days=4), facilitator=volunteer),
    ]
    olena = make_beneficiary(relay, "Олена", "Шевченко", phone="+33612345678")
    yonas = make_beneficiary(relay, "Yonas", "Tesfay")
    mamadou = make_beneficiary(relay, "Mamadou", "Diallo")
    for person in (olena, yonas, mamadou):
        enrol(parcours, person.id, relay.id, volunteer)
    for session, status in zip(sessions, ("present", "present", "absent", "excused")):
        record_attendance(session, olena, status, volunteer)
    record_attendance(sessions[0], yonas, "present", volunteer)
    return relay, volunteer, parcours, sessions, (olena, yonas, mamadou)


def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def count(model, **where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).filter_by(**where))


# --- issuing ---------------------------------------------------------------------------------

def test_the_certificate_counts_present_marks_only(course):
    relay, volunteer, parcours, sessions, (olena, *_) = course
    certificate = issue_certificate(parcours, olena, volunteer)

    assert (certificate.sessions_count, certificate.minutes) == (2, 210)
    assert re.fullmatch(rf"ATT-{TODAY.year}-\d{{5}}", certificate.number)
    assert re.fullmatch(r"[A-HJKMNP-Z2-9]{5}-[A-HJKMNP-Z2-9]{5}", certificate.code)
    assert certificate.initials == "О. Ш."
    assert (certificate.relay_id, certificate.host_relay_id, certificate.issued_by_id) == (relay.id, relay.id,
                                                                                          volunteer.id)
    assert "Шевченко" not in certificate.content and "Олена" not in certificate.content  # the name is not stored
    context = certificate_context(certificate, "https://relais.example.org/verify/" + certificate.code)
    assert_plain(context)
    assert context["total"] == "3 h 30" and context["sessions_count"] == 2
    assert [(s["duration"], s["commune"]) for s in context["sessions"]] == [("2 h", "Briançon"), ("1 h 30", "Névache")]
    assert context["facilitators"] == ["Claire Martin", "Yusuf Ahmadi"]
    assert context["themes"] == ["Messagerie électronique (e-mail)", "Démarches administratives en ligne"]
    assert (context["name"], context["place"], context["level"]) == ("Олена Шевченко", "Briançon", "Débutant")
    assert context["qr_png"] == qr_png("https://relais.example.org/verify/" + certificate.code)
    assert base64.b64decode(context["qr_png"].removeprefix("data:image/png;base64,")).startswith(b"\x89PNG")
    assert count(AuditEvent, action="certificate.issue") == 1


@pytest.mark.parametrize("who", [1, 2])  # Yonas: present once; Mamadou: never marked
def test_without_a_present_mark_there_is_no_certificate(course, who):
    _, volunteer, parcours, sessions, people = course
    if who == 1:  # Yonas's only present mark becomes an absence
        record_attendance(sessions[0], people[1], "absent", volunteer)
    with pytest.raises(Refused, match="n'a encore assisté à aucune séance"):
        issue_certificate(parcours, people[who], volunteer)
    assert count(Certificate) == 0


def test_same_facts_same_certificate_and_a_new_one_when_attendance_changes(course):
    _, volunteer, parcours, sessions, (olena, *_) = course
    first = issue_certificate(parcours, olena, volunteer)
    assert issue_certificate(parcours, olena, volunteer).id == first.id

    record_attendance(sessions[2], olena, "present", volunteer)  # the absence was a mistake
    second = issue_certificate(parcours, olena, volunteer)

    assert second.id != first.id and second.number != first.number and second.code != first.code
    assert (second.sessions_count, second.minutes) == (3, 330)
    assert (first.sessions_count, first.minutes, len(first.facts["sessions"])) == (2, 210, 2)  # never altered


def test_a_group_is_issued_in_one_go_for_those_who_attended(course):
    _, volunteer, parcours, _, (olena, yonas, _) = course
    certificates = issue_group(parcours, volunteer)
    assert [c.beneficiary_id for c in certificates] == [yonas.id, olena.id]  # by name (Tesfay, Шевченко); not Mamadou
    assert [c.id for c in issue_group(parcours, volunteer)] == [c.id for c in certificates]
    assert count(Certificate) == 2


def test_an_anonymised_person_gets_no_new_certificate(course):
    _, volunteer, parcours, _, (olena, *_) = course
    anonymise(olena, volunteer)
    with pytest.raises(Refused, match="anonymisée"):
        issue_certificate(parcours, olena, volunteer)


@pytest.mark.parametrize("first, last, expected", [
    ("Olena", "Shevchenko", "O. S."), ("zoé", "Lefèvre", "Z. L."), ("Олена", "Шевченко", "О. Ш."),
    (*ARABIC, "م. ن."), (*GEEZ, "ሰ. ተ."), ("'Abdallah", "", "A."), ("e\u0301mile", "Nguyễn", "É. N."),
])
def test_initials_take_the_first_letter_of_any_script(first, last, expected):
    assert initials(first, last) == expected


@pytest.mark.parametrize("typed, code", [
    ("ABCDE-FGH23", "ABCDE-FGH23"), ("abcde fgh23", "ABCDE-FGH23"), (" abcdefgh23 ", "ABCDE-FGH23"),
    ("abc-de-fgh-23", "ABCDE-FGH23"), ("abc", "ABC"), ("", ""), (None, ""),
])
def test_codes_are_normalised(typed, code):
    assert normalise_code(typed) == code


# --- printing --------------------------------------------------------------------------------

def test_the_pdf_reads_back_and_every_print_is_counted(client, login, course):
    _, volunteer, parcours, _, (olena, *_) = course
    login(volunteer)
    r = client.post(f"/workshops/parcours/{parcours.id}/certificates/{olena.id}")
    certificate = db.session.scalar(select(Certificate))
    assert r.status_code == 303 and r.headers["Location"] == f"/certificates/{certificate.id}.pdf"

    r = client.get(r.headers["Location"])

    assert r.status_code == 200 and r.mimetype == "application/pdf"
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["Content-Disposition"] == f'inline; filename="attestation-{certificate.number}.pdf"'
    assert len(PdfReader(io.BytesIO(r.data)).pages) == 1
    text = pdf_text(r.data)
    for expected in ["Attestation de suivi", "Олена Шевченко", "« Démarches en ligne »", "niveau débutant",
                     "3 h 30", "2 séances", "Névache", "Claire Martin, Yusuf Ahmadi", "Fait à Briançon",
                     certificate.number, certificate.code, f"http://localhost/verify/{certificate.code}"]:
        assert expected in text, expected
    db.session.refresh(certificate)
    assert certificate.prints == 1

    client.get(f"/certificates/{certificate.id}.pdf")  # a reprint

    db.session.refresh(certificate)
    assert certificate.prints == 2
    details = db.session.scalars(select(AuditEvent.detail).filter_by(action="certificate.print")
                                 .order_by(AuditEvent.id)).all()
    assert details == ["impression 1", "impression 2"]


@pytest.mark.parametrize("weight", [400, 700])
def test_every_character_of_arabic_and_geez_names_is_in_the_font_stack(weight):
    fonts = [dejavu_path(bold=weight == 700)] + [
        FONTS / f"noto-sans-{script}-{script}-{weight}-normal.woff2" for script in ("arabic", "ethiopic")]
    cmaps = []
    for font in fonts:
        with TTFont(font) as ttfont:
            cmaps.append(ttfont.getBestCmap())
    text = " ".join(ARABIC + GEEZ) + initials(*ARABIC) + initials(*GEEZ)
    assert not {char for char in text if not any(ord(char) in cmap for cmap in cmaps)}


def test_the_group_pdf_has_a_page_per_participant(client, login, course, make_beneficiary, caplog):
    relay, volunteer, parcours, sessions, _ = course
    for names in (ARABIC, GEEZ):
        person = make_beneficiary(relay, *names)
        enrol(parcours, person.id, relay.id, volunteer)
        record_attendance(sessions[1], person, "present", volunteer)
    login(volunteer)
    assert client.get(f"/workshops/parcours/{parcours.id}/certificates.pdf").status_code == 404  # none issued yet
    caplog.set_level(logging.WARNING, logger="weasyprint")

    r = client.post(f"/workshops/parcours/{parcours.id}/certificates")
    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/parcours/{parcours.id}/certificates.pdf"
    r = client.get(r.headers["Location"])

    assert r.status_code == 200
    assert r.headers["Content-Disposition"] == f'inline; filename="attestations-parcours-{parcours.id}.pdf"'
    assert len(PdfReader(io.BytesIO(r.data)).pages) == 4  # Olena, Yonas and the two new; not Mamadou
    fonts = {name.replace("-", "") for name in pdf_font_names(r.data)}
    assert any(f.startswith("NotoSansArabic") for f in fonts) and any(f.startswith("NotoSansEthiopic") for f in fonts)
    assert ".notdef" not in caplog.text and "URLRefused" not in caplog.text
    assert "Олена Шевченко" in pdf_text(r.data) and "ሰላም ተስፋይ" in pdf_text(r.data)
    assert count(AuditEvent, action="certificate.print") == 4
    assert db.session.scalar(select(func.sum(Certificate.prints))) == 4


def test_a_long_parcours_still_fits_one_page(app, course, make_workshop_session):
    _, volunteer, parcours, _, (_, yonas, _) = course
    for days in range(11, 40):
        session = make_workshop_session(parcours, day=TODAY - timedelta(days=days), facilitator=volunteer,
                                        commune="Saint-Martin-de-Queyrières", duration_minutes=150)
        record_attendance(session, yonas, "present", volunteer)
    certificate = issue_certificate(parcours, yonas, volunteer)
    assert certificate.sessions_count == 30
    with app.test_request_context():
        data = certificates_pdf([certificate])
    assert len(PdfReader(io.BytesIO(data)).pages) == 1
    assert "74 h 30" in pdf_text(data)  # 2 h + 29 × 2 h 30
    assert certificate.prints == 0  # rendering for the demo or a benchmark is not a print


def test_nobody_attended_yet(client, login, course):
    _, volunteer, parcours, sessions, (olena, yonas, mamadou) = course
    login(volunteer)
    r = client.post(f"/workshops/parcours/{parcours.id}/certificates/{mamadou.id}")
    assert r.status_code == 422 and "Diallo n&#39;a encore assisté à aucune séance" in r.text
    for person in (olena, yonas):
        record_attendance(sessions[0], person, "absent", volunteer)
        record_attendance(sessions[1], person, "absent", volunteer)

    r = client.post(f"/workshops/parcours/{parcours.id}/certificates")

    assert r.status_code == 303 and r.headers["Location"] == f"/workshops/parcours/{parcours.id}#enrolment"
    assert "Personne n&#39;a encore assisté à une séance de ce parcours" in client.get(r.headers["Location"]).text
    assert count(Certificate) == 0


def test_the_parcours_page_offers_certificates_to_those_who_attended(client, login, course):
    _, volunteer, parcours, _, (olena, yonas, mamadou) = course
    login(volunteer)
    page = client.get(f"/workshops/parcours/{parcours.id}").text
    for person in (olena, yonas):
        assert f'action="/workshops/parcours/{parcours.id}/certificates/{person.id}"' in page
    assert f"/certificates/{mamadou.id}\"" not in page
    assert f'action="/workshops/parcours/{parcours.id}/certificates"' in page and "Attestations du groupe (PDF)" in page


def test_the_html_twin_and_the_profile(client, login, course):
    _, volunteer, parcours, _, (olena, *_) = course
    certificate = issue_certificate(parcours, olena, volunteer)
    login(volunteer)

    twin = client.get(f"/certificates/{certificate.id}")
    assert twin.status_code == 200 and twin.headers["Cache-Control"] == "no-store"
    assert '<bdi dir="auto" class="name">Олена Шевченко</bdi>' in twin.text
    assert '<img class="qr" src="data:image/png;base64,' in twin.text
    profile = client.get(f"/beneficiaries/{olena.id}").text
    assert f'<a href="/certificates/{certificate.id}.pdf">{certificate.number}</a>' in profile
    assert "Démarches en ligne — 3 h 30" in profile
    data = client.get(f"/beneficiaries/{olena.id}/export.json").json
    assert data["attestations"][0]["numéro"] == certificate.number
    assert data["ateliers"][0]["durée suivie"] == "3 h 30" and len(data["présences"]) == 4
    assert count(AuditEvent, action="certificate.print") == 0  # the twin is not a print


def test_the_qr_code_leads_to_the_public_url(app, course):
    _, volunteer, parcours, _, (olena, *_) = course
    code = issue_certificate(parcours, olena, volunteer).code
    with app.test_request_context(base_url="http://192.168.1.20:8080/"):
        assert verify_url(code) == f"http://192.168.1.20:8080/verify/{code}"
        app.config["PUBLIC_URL"] = "https://relais.example.org"
        assert verify_url(code) == f"https://relais.example.org/verify/{code}"
    assert verify_url(code) == f"https://relais.example.org/verify/{code}"  # no request needed then


# --- public verification ------------------------------------------------------------------------

@pytest.mark.parametrize("variant", [str, str.lower, lambda code: code.replace("-", " ").lower(),
                                     lambda code: code.replace("-", "")])
def test_the_verification_page_tells_no_name(client, course, variant):
    relay, volunteer, parcours, _, (olena, *_) = course
    certificate = issue_certificate(parcours, olena, volunteer)

    r = client.get(f"/verify/{variant(certificate.code)}")

    assert r.status_code == 200 and "Attestation authentique" in r.text
    assert r.headers["Cache-Control"] == "no-store" and "noindex" in r.headers["X-Robots-Tag"]
    for shown in ["О. Ш.", "Démarches en ligne", "3 h 30", f"{TODAY.day} "]:
        assert shown in r.text
    for hidden in ["Олена", "Шевченко", olena.code, "+33", "06 12", relay.name, certificate.number, "Claire"]:
        assert hidden not in r.text, hidden


def test_the_verification_form_goes_to_the_code(client):
    assert 'name="code"' in client.get("/verify").text
    r = client.get("/verify", query_string={"code": " abcde fgh23 "})
    assert r.status_code == 303 and r.headers["Location"] == "/verify/ABCDE-FGH23"
    r = client.get("/verify", query_string={"code": " - "})
    assert r.status_code == 422 and "Saisissez le code" in r.text


def test_an_unknown_code_is_a_friendly_404(client, course):
    r = client.get("/verify/ABCDE-FGH23")
    assert r.status_code == 404 and "Aucune attestation ne correspond à ce code" in r.text
    assert 'name="code"' in r.text and r.headers["Cache-Control"] == "no-store"


def test_after_anonymisation_verification_works_and_printing_is_gone(client, login, course):
    _, volunteer, parcours, _, (olena, *_) = course
    certificate = issue_certificate(parcours, olena, volunteer)
    anonymise(olena, volunteer)
    login(volunteer)

    assert "О. Ш." in client.get(f"/verify/{certificate.code}").text
    assert client.get(f"/certificates/{certificate.id}.pdf").status_code == 404
    assert client.get(f"/certificates/{certificate.id}").status_code == 404
    assert certificate.number in client.get(f"/beneficiaries/{olena.id}").text  # listed, no longer printable
    assert f"/certificates/{certificate.id}.pdf" not in client.get(f"/beneficiaries/{olena.id}").text


# --- who may issue and print ----------------------------------------------------------------------

def test_another_relay_sees_nothing_and_coordination_is_refused(client, login, course, make_user, make_relay):
    relay, volunteer, parcours, _, (olena, *_) = course
    certificate = issue_certificate(parcours, olena, volunteer)
    login(make_user(Role.MANAGER, relay=make_relay(relay.territory)))
    for url in (f"/certificates/{certificate.id}.pdf", f"/certificates/{certificate.id}",
                f"/workshops/parcours/{parcours.id}/certificates.pdf"):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/workshops/parcours/{parcours.id}/certificates/{olena.id}").status_code == 404
    for role in (Role.COORDINATOR, Role.ADMIN):
        client.post("/logout")
        login(make_user(role, territory=relay.territory))
        assert client.get(f"/certificates/{certificate.id}").status_code == 403
        assert client.post(f"/workshops/parcours/{parcours.id}/certificates").status_code == 403
    client.post("/logout")
    assert client.get(f"/certificates/{certificate.id}").status_code == 303  # to the login page
    assert count(Certificate) == 1


def test_a_person_not_enrolled_is_not_found(client, login, course, make_beneficiary):
    relay, volunteer, parcours, *_ = course
    login(volunteer)
    outsider = make_beneficiary(relay, "Zoé", "Martin")
    assert client.post(f"/workshops/parcours/{parcours.id}/certificates/{outsider.id}").status_code == 404


def test_the_persons_relay_prints_what_the_mobile_team_issued(client, login, course, make_relay, make_user,
                                                               make_parcours, make_workshop_session,
                                                               make_beneficiary):
    relay, *_ = course
    team = make_relay(relay.territory, name="Équipe mobile", town="Gap", is_mobile_team=True)
    facilitator = make_user(Role.VOLUNTEER, relay=team)
    parcours = make_parcours(team, title="Prise en main de l'ordinateur")
    session = make_workshop_session(parcours, host=relay, facilitator=facilitator)
    person = make_beneficiary(relay, "Farid", "Ahmadzai")
    enrol(parcours, person.id, relay.id, facilitator)
    record_attendance(session, person, "present", facilitator)
    certificate = issue_certificate(parcours, person, facilitator)
    assert (certificate.relay_id, certificate.host_relay_id) == (team.id, relay.id)
    assert certificate.facts["place"] == "Gap"

    login(make_user(Role.VOLUNTEER, relay=relay))
    assert client.get(f"/certificates/{certificate.id}").status_code == 200
    client.post("/logout")
    login(make_user(Role.VOLUNTEER, relay=make_relay(relay.territory)))
    assert client.get(f"/certificates/{certificate.id}").status_code == 404
