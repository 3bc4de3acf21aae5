"""The facilitator's journey in a real browser, with htmx and without JavaScript.

The référente of Secours Populaire Gap plans a parcours and a session held today in Névache,
enrols three people (two found by searching the relay's records, one quick-created on the spot),
marks their attendance in one click each, prints the group's certificates and opens one
verification link, as the person's future employer would by scanning the QR code. Every page is
axe-core clean.

The live server's database is shared by the e2e session: each test plans its own parcours and
quick-creates a person the demo does not hold, so the two tests pass in any order.
"""
import io
import re

from playwright.sync_api import expect

from tests.e2e.conftest import log_in


FACILITATOR = "referent.spf-gap@relais05.example"
CODE = re.compile(r"\b([A-Z2-9]{5}-[A-Z2-9]{5})\b")
FOUND = ("Bah", "Diallo")  # demo people of Secours Populaire Gap (each twice: near-duplicates)


def plan_parcours_and_session(page, axe_check, title: str) -> None:
    page.get_by_role("navigation", name="Navigation principale").get_by_role("link", name="Ateliers").click()
    page.get_by_role("link", name="Nouveau parcours").click()
    page.get_by_label("Titre", exact=True).fill(title)
    page.get_by_label("Prise en main du smartphone").check()
    page.get_by_label("Appels vidéo et messageries").check()
    page.get_by_label("Nombre de séances prévues").fill("3")
    axe_check(page)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    page.get_by_role("link", name="Nouvelle séance").click()
    page.get_by_label("Heure de début").fill("10:00")
    page.get_by_label("Durée").fill("2 h")
    page.get_by_label("Commune").fill("Névache")
    page.get_by_label("Lieu", exact=True).fill("Salle des fêtes")
    page.get_by_label("Places").fill("8")
    axe_check(page)
    page.get_by_role("button", name="Enregistrer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(title)
    expect(page.get_by_role("cell", name=re.compile("Névache"))).to_be_visible()


def enrol_three(page, axe_check, newcomer: tuple[str, str]) -> list[str]:
    """Two people found by search, one quick-created; their names as the page shows them."""
    enrolment = page.locator("#enrolment")
    names = []
    for query in FOUND:
        page.get_by_label("Rechercher").fill(query)
        page.get_by_role("button", name="Rechercher").click()
        pick = page.locator("#found li").filter(has_text=query).first
        expect(pick).to_be_visible()
        name = pick.locator("span[dir=auto]").inner_text()
        pick.get_by_role("button", name=re.compile("^Inscrire")).click()
        expect(enrolment.get_by_role("row").filter(has_text=name)).to_be_visible()
        names.append(name)
    first, last = newcomer
    page.get_by_label("Prénom", exact=True).fill(first)
    page.get_by_label("Nom ou pseudonyme", exact=True).fill(last)
    page.get_by_label(re.compile("^La personne a été informée")).check()
    page.get_by_role("button", name="Créer la fiche et inscrire").click()
    expect(enrolment.get_by_role("heading", name="Participant·es (3)")).to_be_visible()
    expect(enrolment.get_by_role("row").filter(has_text=f"{first} {last}")).to_be_visible()
    axe_check(page)
    return names + [f"{first} {last}"]


def mark_attendance(page, axe_check, names: list[str]) -> None:
    """Present, present, absent: the counts change in place (or after the page comes back)."""
    page.locator("table a[href*='/workshops/sessions/']").first.click()
    expect(page.get_by_role("heading", name="Présences")).to_be_visible()
    axe_check(page)
    for name, status in zip(names, ("Présent·e", "Présent·e", "Absent·e")):
        button = page.get_by_role("button", name=f"{status} : {name}")
        button.click()
        expect(page.get_by_role("button", name=f"{status} : {name}")).to_have_attribute("aria-pressed", "true")
    counts = page.locator("#attendance .counts")
    expect(counts).to_contain_text("2 présent·es")
    expect(counts).to_contain_text("1 absent·e")
    expect(counts).to_contain_text("0 non noté·e")
    axe_check(page)


def print_group_certificates(page, names: list[str]) -> str:
    """The group PDF: a page for each of the two people present, none for the absent one."""
    from pypdf import PdfReader

    page.get_by_role("link", name="Le parcours").click()
    with page.expect_response(lambda r: r.url.endswith("/certificates.pdf")) as response:
        page.get_by_role("button", name="Attestations du groupe (PDF)").click()
    assert response.value.headers["content-type"] == "application/pdf"
    # The browser shows the PDF in its viewer, which keeps the bytes: fetch them again (a reprint).
    pdf = page.request.get(response.value.url)
    reader = PdfReader(io.BytesIO(pdf.body()))
    texts = [p.extract_text() for p in reader.pages]
    assert len(texts) == 2, f"{len(texts)} pages"
    for name in names[:2]:
        assert any(name in text for text in texts), name
    assert not any(names[2] in text for text in texts)
    assert "2 h" in texts[0] and "Névache" in texts[0]
    match = CODE.search(texts[0])
    assert match, texts[0]
    return match.group(1)


def open_verification(page, axe_check, code: str, title: str) -> None:
    page.goto(f"/verify/{code}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("authentique")
    main = page.locator("main")
    expect(main).to_contain_text(title)
    expect(main).to_contain_text("2 h")
    axe_check(page)


def journey(page, live_server, axe_check, title: str, newcomer: tuple[str, str]) -> None:
    log_in(page, live_server, FACILITATOR)
    plan_parcours_and_session(page, axe_check, title)
    names = enrol_three(page, axe_check, newcomer)
    mark_attendance(page, axe_check, names)
    code = print_group_certificates(page, names)
    page.goto("/")
    page.get_by_role("button", name="Se déconnecter").click()  # the verification page is public
    open_verification(page, axe_check, code, title)
    main_text = page.locator("main").inner_text()
    for name in names:
        for part in name.split():
            assert part not in main_text, f"the verification page shows {part!r}"


def test_facilitator_journey_with_htmx(page, live_server, axe_check):
    journey(page, live_server, axe_check, "Smartphone au quotidien (e2e htmx)", ("Yared", "Tesfamariam"))


def test_facilitator_journey_without_javascript(page_nojs, live_server, axe_check):
    journey(page_nojs, live_server, axe_check, "Smartphone au quotidien (e2e sans JS)", ("Hanna", "Wolde"))
