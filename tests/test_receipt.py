"""The receipt of a sale: plain-value context, what it prints (read back from the PDF), duplicates,
voids, the two paper formats (A5 sheet, 80 mm roll), and printing: the first print is the
original, only an explicit reprint is a DUPLICATA, and fetching a print again counts nothing."""
import html
import io
import uuid
from datetime import date, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import func, insert, select

from portal import clock
from portal.extensions import db
from portal.ledger.models import LedgerEntry
from portal.ledger.operations import short_fingerprint
from portal.pdf import render_pdf
from portal.sales.documents import receipt_context
from portal.sales.forms import MAX_LINES
from portal.sales.models import ReceiptPrint, Sale
from portal.sales.operations import LineRequest, PaymentRequest, record_sale, void_sale
from portal.errors import Refused
from portal.sales.prints import PRINTED_AT, print_original, reprint
from portal.security import Role
from portal.stock.models import SerialItem
from portal.templating import local_datetime
from portal.users.models import User
from tests.test_pdf import pdf_font_names
from tests.test_sales_core import run_concurrently

pytestmark = pytest.mark.date_sensitive  # CI runs these at the calendar's edges too (.ci/run)

LEGAL = "Association loi 1901 non assujettie à la TVA (art. 261-7-1° du CGI)."


@pytest.fixture
def shop(make_relay, make_user, make_product, make_beneficiary):
    """A relay with a legal mention, a volunteer and a manager, an eligible Ukrainian person,
    a SIM (5 € instead of 15 €) and a 10 € recharge."""
    relay = make_relay(name="Secours Populaire Gap", address="8 rue de la Paix, 05000 Gap", legal_mention=LEGAL)
    volunteer = make_user(Role.VOLUNTEER, relay=relay, display_name="Marie Dupont")
    manager = make_user(Role.MANAGER, relay=relay, display_name="Karim Benali")
    person = make_beneficiary(relay, "Олена", "Шевченко", eligible_on=clock.today())
    sim = make_product([relay], stock=10, name="Carte SIM prépayée", price=500, reference=1500)
    recharge = make_product([relay], stock=10, name="Recharge 10 €", category="recharge", price=1000,
                            reference=1000)
    return relay, volunteer, manager, person, sim, recharge


@pytest.fixture
def sale(shop):
    """A SIM and a recharge, 15 € paid with a 20 € note."""
    _, volunteer, _, person, sim, recharge = shop
    return record_sale(volunteer, uuid.uuid4().hex, [LineRequest(sim.id), LineRequest(recharge.id)],
                       [PaymentRequest("cash", 1500, 2000)], person.id)


def receipt_text(sale, print_number=0, **overrides) -> str:
    """The receipt rendered to PDF and read back, spaces normalised."""
    data = render_pdf("pdf/receipt.html", **(receipt_context(sale, print_number) | overrides))
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def test_the_receipt_says_who_what_how_much_and_when(sale, shop):
    relay, *_ = shop
    text = receipt_text(sale)
    entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "sale", LedgerEntry.ref_id == sale.id))
    for expected in [
        relay.name, "8 rue de la Paix, 05000 Gap", LEGAL, f"N° {sale.number}",
        "Олена Шевченко", sale.beneficiary.code, "servi par Marie",
        "Carte SIM prépayée", "1 × 5,00 € (valeur 15,00 €)", "Recharge 10 €", "Total 15,00 €",
        "Valeur de référence : 25,00 €", "Économie réalisée : 10,00 €",
        "Espèces", "donné 20,00 € · rendu 5,00 €",
        f"Empreinte du registre : {short_fingerprint(entry.mac)}",
    ]:
        assert expected in text, expected
    assert "Dupont" not in text  # the volunteer's first name only
    assert "DUPLICATA" not in text and "ANNUL" not in text


def test_the_date_is_local_time(sale):
    sale.created_at = datetime(2026, 11, 27, 13, 5)  # UTC; not committed
    assert receipt_context(sale, 0)["at"] == "27/11/2026 14:05"
    sale.created_at = datetime(2026, 7, 14, 8, 30)  # summer time
    assert receipt_context(sale, 0)["at"] == "14/07/2026 10:30"
    db.session.rollback()


def test_a_reprint_is_a_numbered_duplicate(sale):
    assert "DUPLICATA 2" in receipt_text(sale, 2)
    assert "DUPLICATA" not in receipt_text(sale, 0)


def test_a_voided_sale_and_its_void(sale, shop):
    _, _, manager, *_ = shop
    void = void_sale(manager, sale, "erreur de produit", uuid.uuid4().hex)

    original = receipt_text(sale, 1)
    assert "ANNULÉ" in original and f"par l’annulation {void.number}" in original
    assert "DUPLICATA 1" in original

    text = receipt_text(void)
    assert f"ANNULATION de la vente {sale.number}" in text
    assert "Motif : erreur de produit" in text and f"N° {void.number}" in text
    assert "Total -15,00 €" in text and "Remboursement" in text
    assert "Économie" not in text
    void_entry = db.session.scalar(select(LedgerEntry).where(LedgerEntry.kind == "void"))
    assert short_fingerprint(void_entry.mac) in text


def test_a_refurbished_phone_with_its_imei_and_grade(shop, make_product):
    relay, volunteer, _, person, _, _ = shop
    phone = make_product([relay], stock=1, name="Smartphone reconditionné", category="smartphone", price=4000,
                         reference=15000, tracking="imei")
    db.session.add(SerialItem(product_id=phone.id, relay_id=relay.id, serial="490154203237518", grade="A"))
    db.session.commit()
    sale = record_sale(volunteer, uuid.uuid4().hex, [LineRequest(phone.id, serial="490154203237518")],
                       [PaymentRequest("card", 4000)], person.id)
    text = receipt_text(sale)
    assert "N° de série 490154203237518 · grade A" in text
    assert "Carte bancaire 40,00 €" in text and "Économie réalisée : 110,00 €" in text


def test_a_free_emergency_sim(shop, make_product):
    relay, volunteer, _, person, _, _ = shop
    free = make_product([relay], stock=5, name="SIM d'urgence", category="free_sim", price=0, reference=1000)
    sale = record_sale(volunteer, uuid.uuid4().hex, [LineRequest(free.id)], [], person.id)
    text = receipt_text(sale)
    assert "Gratuit 0,00 €" in text and "Total 0,00 €" in text and "Économie réalisée : 10,00 €" in text


def test_a_lifted_limit_is_printed_with_its_reason(shop, make_product):
    relay, _, manager, person, _, _ = shop
    free = make_product([relay], stock=5, name="SIM d'urgence", category="free_sim", price=0, reference=1000,
                        limit_per_person=0)
    sale = record_sale(manager, uuid.uuid4().hex, [LineRequest(free.id)], [], person.id,
                       override_reason="carte volée, plainte déposée")
    assert "Limite levée par un·e référent·e : carte volée, plainte déposée" in receipt_text(sale)


def test_a_sale_without_a_person(shop, make_product):
    relay, volunteer, *_ = shop
    case = make_product([relay], stock=5, name="Coque", category="accessory", price=300, reference=300,
                        eligibility_required=False)
    sale = record_sale(volunteer, uuid.uuid4().hex, [LineRequest(case.id, 2)],
                       [PaymentRequest("cheque", 600, reference="1234567")])
    context = receipt_context(sale, 0)
    assert context["person"] is None and context["economy"] is None
    text = receipt_text(sale)
    assert "Pour " not in text and "2 × 3,00 €" in text and "valeur" not in text
    assert "Chèque — 1234567 6,00 €" in text


@pytest.mark.parametrize("page_size, width_mm", [("A5", 148), ("80mm", 80)])
def test_the_relay_chooses_a5_or_the_80mm_roll(sale, shop, page_size, width_mm):
    relay, *_ = shop
    relay.receipt_format = page_size
    db.session.commit()
    context = receipt_context(sale, 0)
    assert context["page_size"] == page_size
    data = render_pdf("pdf/receipt.html", **context)
    pages = PdfReader(io.BytesIO(data)).pages
    assert float(pages[0].mediabox.width) == pytest.approx(width_mm / 25.4 * 72, abs=0.5)  # 80 mm = 226.8 pt
    assert len(pages) == 1
    assert len(data) <= 30_000


def test_an_arabic_name_is_drawn_with_the_regular_face_only(shop, make_beneficiary):
    relay, volunteer, _, _, sim, _ = shop
    person = make_beneficiary(relay, "محمد", "نادری", eligible_on=clock.today())
    sale = record_sale(volunteer, uuid.uuid4().hex, [LineRequest(sim.id)], [PaymentRequest("cash", 500)], person.id)
    fonts = pdf_font_names(render_pdf("pdf/receipt.html", **receipt_context(sale, 0)))
    arabic = {font for font in fonts if "Arabic" in font}
    assert arabic == {"Noto-Sans-Arabic"}, fonts  # the bold face would weigh more for nothing


PLAIN = (str, int, float, bool, type(None), date)


def assert_plain(value, path="context"):
    if isinstance(value, dict):
        for key, item in value.items():
            assert isinstance(key, str), f"{path}: key {key!r}"
            assert_plain(item, f"{path}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            assert_plain(item, f"{path}[{i}]")
    else:
        assert isinstance(value, PLAIN), f"{path} is a {type(value).__name__}, not a plain value"


def test_the_context_holds_plain_values_only(sale, shop):
    _, _, manager, *_ = shop
    void = void_sale(manager, sale, "erreur", uuid.uuid4().hex)
    for context in (receipt_context(sale, 3), receipt_context(void, 0)):
        assert_plain(context)



# --- the paper: an 80 mm page as tall as its content, an A5 sheet used to its width ------------

MM = 72 / 25.4  # PDF points per millimetre


def text_positions(data: bytes) -> tuple[float, float, list[tuple[float, float, str]]]:
    """The first page's width and height, and where each piece of text starts (x, y from the
    bottom of the page), all in millimetres."""
    page = PdfReader(io.BytesIO(data)).pages[0]
    found = []

    def visit(text, cm, tm, font, size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((x / MM, y / MM, text.strip()))

    page.extract_text(visitor_text=visit)
    return float(page.mediabox.width) / MM, float(page.mediabox.height) / MM, found


@pytest.fixture
def sell_lines(shop, make_product):
    """sell_lines(n): a sale of n different products (each with an IMEI-long line of text)."""
    relay, volunteer, _, person, _, _ = shop

    def sell(count: int) -> Sale:
        products = [make_product([relay], stock=1, name=f"Housse de protection modèle {i}", category="accessory",
                                 price=300, reference=900) for i in range(count)]
        return record_sale(volunteer, uuid.uuid4().hex, [LineRequest(p.id) for p in products],
                           [PaymentRequest("cash", 300 * count, 300 * count + 200)], person.id)
    return sell


def test_the_80mm_page_is_as_tall_as_its_receipt(shop, sell_lines):
    relay, *_ = shop
    relay.receipt_format = "80mm"
    db.session.commit()
    heights = {}
    for count in (1, 8, MAX_LINES):
        data = render_pdf("pdf/receipt.html", **receipt_context(sell_lines(count), 1))
        assert len(PdfReader(io.BytesIO(data)).pages) == 1, f"{count} lines: more than one page"
        width, height, texts = text_positions(data)
        assert width == pytest.approx(80, abs=0.2)
        lowest = min(y for _, y, _ in texts)  # the baseline of the last line ("Merci de garder ce reçu.")
        assert 2 < lowest <= 10, f"{count} lines: {lowest:.1f} mm of paper below the last line"
        assert max(y for _, y, _ in texts) < height, f"{count} lines: text above the page"
        heights[count] = height
    assert heights[1] < heights[8] < heights[MAX_LINES], heights
    assert heights[MAX_LINES] > 200, heights  # longer than the former fixed page: still one page


def test_the_a5_receipt_uses_the_width_of_the_sheet(sale, shop):
    relay, *_ = shop
    relay.receipt_format = "A5"
    db.session.commit()
    width, _, texts = text_positions(render_pdf("pdf/receipt.html", **receipt_context(sale, 0)))
    assert width == pytest.approx(148, abs=0.2)
    total = next(x for x, _, text in texts if text.startswith("15,00"))  # right-aligned in its table
    assert total > 115, f"the total starts at {total:.0f} mm of a 148 mm sheet: the table is narrow"


# --- printing: an explicit action; the first print is the original ----------------------------

def pdf_text(data: bytes) -> str:
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return " ".join(text.replace("\u00a0", " ").replace("\u202f", " ").split())


def prints_of(sale) -> list[tuple[int, int | None]]:
    """The sale's prints as (number, printed by) in order."""
    return db.session.execute(select(ReceiptPrint.number, ReceiptPrint.printed_by_id)
                              .where(ReceiptPrint.sale_id == sale.id).order_by(ReceiptPrint.number)).all()


def page_text(response) -> str:
    """An HTML answer's text as read: entities decoded, spaces normalised."""
    return " ".join(html.unescape(response.text).split())


def sign_in(client, login, user) -> None:
    """`user` on the client, instead of whoever was signed in."""
    client.post("/logout")
    assert login(user).status_code == 303


def post_print(client, sale):
    return client.post(f"/sales/{sale.id}/print")


def post_reprint(client, sale, seen):
    return client.post(f"/sales/{sale.id}/reprint", data={"seen": seen})


def test_the_sale_page_offers_the_first_print(client, login, sale, shop):
    _, volunteer, *_ = shop
    login(volunteer)
    page = client.get(f"/sales/{sale.id}").text
    assert f'action="/sales/{sale.id}/print"' in page and "Imprimer le reçu" in page
    assert "Réimprimer" not in page and "pas encore" in page
    twin = client.get(f"/sales/{sale.id}/receipt").text  # the layout of the next print: the original
    assert "DUPLICATA" not in twin
    assert prints_of(sale) == []


def test_printing_makes_the_original_and_fetching_it_again_counts_nothing(client, login, sale, shop):
    _, volunteer, *_ = shop
    login(volunteer)
    printed = post_print(client, sale)
    assert printed.status_code == 303 and printed.headers["Location"] == f"/sales/{sale.id}/prints/0.pdf"
    assert prints_of(sale) == [(0, volunteer.id)]

    url = printed.headers["Location"]
    first = client.get(url)
    assert first.mimetype == "application/pdf" and first.headers["Cache-Control"] == "no-store"
    assert f'filename="recu-{sale.number}.pdf"' in first.headers["Content-Disposition"]
    reload = client.get(url)
    ranged = client.get(url, headers={"Range": "bytes=0-1023"})  # a PDF viewer reading a part
    head = client.head(url)
    for response in (first, reload, ranged):
        assert response.status_code == 200, response.status_code  # the whole document: ranges are not served
        text = pdf_text(response.data)
        assert f"N° {sale.number}" in text and "DUPLICATA" not in text
    assert head.status_code == 200 and head.mimetype == "application/pdf" and head.data == b""
    former = client.get(f"/sales/{sale.id}/receipt.pdf")  # the address of the former "print" link
    assert former.status_code == 302 and former.headers["Location"] == url
    assert prints_of(sale) == [(0, volunteer.id)]


def test_the_former_receipt_address_opens_the_sale_page_before_any_print(client, login, sale, shop):
    _, volunteer, *_ = shop
    login(volunteer)
    response = client.get(f"/sales/{sale.id}/receipt.pdf")
    assert response.status_code == 302 and response.headers["Location"] == f"/sales/{sale.id}"
    assert prints_of(sale) == []


def test_a_double_click_on_print_makes_one_original(client, login, sale, shop):
    _, volunteer, manager, *_ = shop
    login(volunteer)
    assert post_print(client, sale).headers["Location"].endswith("/prints/0.pdf")
    again = post_print(client, sale)
    assert again.status_code == 303 and again.headers["Location"].endswith("/prints/0.pdf")
    sign_in(client, login, manager)  # someone else, on a page that still offered the first print
    assert post_print(client, sale).headers["Location"].endswith("/prints/0.pdf")
    assert prints_of(sale) == [(0, volunteer.id)]
    assert "DUPLICATA" not in pdf_text(client.get(f"/sales/{sale.id}/prints/0.pdf").data)


def test_only_an_explicit_reprint_is_a_numbered_duplicate(client, login, sale, shop):
    _, volunteer, *_ = shop
    login(volunteer)
    post_print(client, sale)
    page = client.get(f"/sales/{sale.id}").text
    assert "Réimprimer (DUPLICATA 1)" in page and 'name="seen" value="0"' in page
    assert f'action="/sales/{sale.id}/print"' not in page
    assert "DUPLICATA 1" in client.get(f"/sales/{sale.id}/receipt").text  # the twin: the next print

    first = post_reprint(client, sale, 0)
    assert first.status_code == 303 and first.headers["Location"] == f"/sales/{sale.id}/prints/1.pdf"
    duplicate = client.get(first.headers["Location"])
    assert f'filename="recu-{sale.number}-duplicata-1.pdf"' in duplicate.headers["Content-Disposition"]
    made = db.session.get(ReceiptPrint, (sale.id, 1))
    text = pdf_text(duplicate.data)
    assert "DUPLICATA 1" in text and f"réimprimé le {local_datetime(made.printed_at, 'dd/MM/y HH:mm')}" in text
    assert "Réimprimer (DUPLICATA 2)" in client.get(f"/sales/{sale.id}").text
    second = post_reprint(client, sale, 1)
    assert second.headers["Location"] == f"/sales/{sale.id}/prints/2.pdf"
    assert "DUPLICATA 2" in pdf_text(client.get(second.headers["Location"]).data)
    for number, expected in ((0, None), (1, "DUPLICATA 1"), (2, "DUPLICATA 2")):  # each as it was printed
        text = pdf_text(client.get(f"/sales/{sale.id}/prints/{number}.pdf").data)
        assert (expected in text) if expected else ("DUPLICATA" not in text), (number, text)
    assert prints_of(sale) == [(0, volunteer.id), (1, volunteer.id), (2, volunteer.id)]
    assert client.get(f"/sales/{sale.id}/prints/3.pdf").status_code == 404  # not printed


def test_the_sale_page_says_who_printed_what_and_when(client, login, sale, shop):
    _, volunteer, manager, *_ = shop
    login(volunteer)
    post_print(client, sale)
    sign_in(client, login, manager)
    post_reprint(client, sale, 0)
    page = page_text(client.get(f"/sales/{sale.id}"))
    original, duplicate = (db.session.get(ReceiptPrint, (sale.id, n)) for n in (0, 1))
    assert f"Original — le {local_datetime(original.printed_at, PRINTED_AT)} par Marie Dupont" in page
    assert f"DUPLICATA 1 — le {local_datetime(duplicate.printed_at, PRINTED_AT)} par Karim Benali" in page
    listed = client.get("/sales/").text
    assert "réimprimé 1 fois" in listed


def test_a_double_submitted_reprint_makes_one_duplicate(client, login, sale, shop):
    _, volunteer, *_ = shop
    login(volunteer)
    post_print(client, sale)
    first, again = post_reprint(client, sale, 0), post_reprint(client, sale, 0)
    assert first.headers["Location"] == again.headers["Location"] == f"/sales/{sale.id}/prints/1.pdf"
    assert prints_of(sale) == [(0, volunteer.id), (1, volunteer.id)]


def test_a_reprint_from_a_page_out_of_date_is_refused_in_place(client, login, sale, shop):
    _, volunteer, manager, *_ = shop
    login(manager)
    post_print(client, sale)
    post_reprint(client, sale, 0)  # the manager reprints while the volunteer's page still shows the original
    sign_in(client, login, volunteer)
    refused = post_reprint(client, sale, 0)
    assert refused.status_code == 422 and 'role="alert"' in refused.text
    assert "La page n'était plus à jour : le DUPLICATA 1 a été imprimé par Karim Benali le" in page_text(refused)
    assert "Réimprimer (DUPLICATA 2)" in refused.text  # the page as it is now
    assert prints_of(sale) == [(0, manager.id), (1, manager.id)]


@pytest.mark.parametrize("seen", ["", "abc", "-1", "2", "1e3", "9" * 30, "0\x00"])
def test_a_reprint_that_names_no_print_shown_is_refused(client, login, sale, shop, seen):
    _, volunteer, *_ = shop
    login(volunteer)
    post_print(client, sale)
    post_reprint(client, sale, 0)
    refused = post_reprint(client, sale, seen)
    assert refused.status_code == 422 and "La page n'était plus à jour" in page_text(refused)
    assert len(prints_of(sale)) == 2


def test_a_reprint_before_the_original_is_refused(client, login, sale, shop):
    _, volunteer, *_ = shop
    login(volunteer)
    refused = post_reprint(client, sale, 0)
    assert refused.status_code == 422 and "imprimez d'abord l'original" in page_text(refused)
    assert prints_of(sale) == []


def test_a_void_receipt_follows_the_same_rules(client, login, sale, shop):
    _, volunteer, manager, *_ = shop
    login(volunteer)
    post_print(client, sale)
    void = void_sale(manager, sale, "erreur de produit", uuid.uuid4().hex)
    sign_in(client, login, manager)
    printed = post_print(client, void)
    assert printed.headers["Location"] == f"/sales/{void.id}/prints/0.pdf"
    text = pdf_text(client.get(printed.headers["Location"]).data)
    assert f"ANNULATION de la vente {sale.number}" in text and "DUPLICATA" not in text
    assert post_print(client, void).headers["Location"].endswith("/prints/0.pdf")
    reprinted = post_reprint(client, void, 0)
    assert "DUPLICATA 1" in pdf_text(client.get(reprinted.headers["Location"]).data)
    # The voided sale's own receipt, reprinted after the void: stamped ANNULÉ, a duplicate.
    text = pdf_text(client.get(post_reprint(client, sale, 0).headers["Location"]).data)
    assert "ANNULÉ" in text and "DUPLICATA 1" in text
    assert prints_of(void) == [(0, manager.id), (1, manager.id)]


def test_another_relays_prints_are_not_found(client, login, sale, shop, make_user):
    _, volunteer, *_ = shop
    login(volunteer)
    post_print(client, sale)
    sign_in(client, login, make_user(Role.VOLUNTEER))  # of another relay
    for response in (client.get(f"/sales/{sale.id}/prints/0.pdf"), client.get(f"/sales/{sale.id}/receipt.pdf"),
                     post_print(client, sale), post_reprint(client, sale, 0)):
        assert response.status_code == 404 and "Page introuvable" in response.text
    assert prints_of(sale) == [(0, volunteer.id)]


def test_prints_counted_before_they_were_recorded_have_no_author(client, login, sale, shop):
    """The migration turns a former print count into prints without date nor author: the sale page
    says so, and the next print is a duplicate."""
    _, volunteer, *_ = shop
    db.session.execute(insert(ReceiptPrint.__table__).values(  # as the migration writes them
        [{"sale_id": sale.id, "number": n, "printed_at": None, "printed_by_id": None} for n in (0, 1)]))
    db.session.commit()
    login(volunteer)
    page = client.get(f"/sales/{sale.id}").text
    assert "avant le suivi des impressions" in page and "Réimprimer (DUPLICATA 2)" in page
    assert post_print(client, sale).headers["Location"].endswith("/prints/0.pdf")  # no original again
    assert "DUPLICATA 1" in pdf_text(client.get(f"/sales/{sale.id}/prints/1.pdf").data)
    assert post_reprint(client, sale, 1).headers["Location"].endswith("/prints/2.pdf")


# --- concurrency: SQLite and PostgreSQL -------------------------------------------------------

def test_simultaneous_first_prints_make_one_original(app, sale, shop):
    _, volunteer, manager, *_ = shop
    sale_id, users = sale.id, [volunteer.id, manager.id]

    def press_print(i):
        made = print_original(db.session.get(User, users[i % 2]), db.session.get(Sale, sale_id))
        return made.number

    numbers, errors = run_concurrently(app, 8, press_print)
    assert errors == [] and numbers == [0] * 8
    assert db.session.scalar(select(func.count()).select_from(ReceiptPrint)) == 1


def test_simultaneous_reprints_of_one_page_make_one_duplicate(app, sale, shop):
    _, volunteer, *_ = shop
    print_original(volunteer, sale)
    sale_id, user_id = sale.id, volunteer.id

    def press_reprint(i):
        return reprint(db.session.get(User, user_id), db.session.get(Sale, sale_id), 0).number

    numbers, errors = run_concurrently(app, 6, press_reprint)
    assert errors == [] and numbers == [1] * 6
    assert prints_of(sale) == [(0, user_id), (1, user_id)]


def test_two_people_reprinting_one_page_at_once_make_one_duplicate(app, sale, shop):
    """Each saw the original; one duplicate is made, the other person is told the page was out of date."""
    _, volunteer, manager, *_ = shop
    print_original(volunteer, sale)
    sale_id, users = sale.id, [volunteer.id, manager.id]

    def press_reprint(i):
        return reprint(db.session.get(User, users[i]), db.session.get(Sale, sale_id), 0).number

    numbers, errors = run_concurrently(app, 2, press_reprint)
    assert sorted(numbers, key=str) == [1, None] and len(errors) == 1
    assert isinstance(errors[0], Refused) and "La page n'était plus à jour" in errors[0].message
    assert [number for number, _ in prints_of(sale)] == [0, 1]


def test_printing_while_another_write_runs_waits_for_it(app, client, login, sale, shop):
    """Printing records the print: on SQLite it must wait for the write lock another request holds,
    not fail at once with "database is locked" (a 503 under load)."""
    import sqlite3
    import threading

    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL takes no lock up front: a twin insert waits on the print's primary key")
    _, volunteer, *_ = shop
    login(volunteer)
    other = sqlite3.connect(db.engine.url.database, check_same_thread=False, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer, e.g. a sale being recorded
    release = threading.Timer(0.5, other.commit)
    release.start()
    response = post_print(client, sale)
    release.join()
    other.close()
    assert response.status_code == 303
    assert prints_of(sale) == [(0, volunteer.id)]
