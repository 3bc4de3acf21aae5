"""The receipt of a sale: plain-value context, what it prints (read back from the PDF), duplicates,
voids, and the two paper formats (A5 sheet, 80 mm roll)."""
import io
import uuid
from datetime import date, datetime

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from portal import clock
from portal.extensions import db
from portal.ledger.models import LedgerEntry
from portal.ledger.operations import short_fingerprint
from portal.pdf import render_pdf
from portal.sales.documents import receipt_context
from portal.sales.operations import LineRequest, PaymentRequest, record_sale, void_sale
from portal.security import Role
from portal.stock.models import SerialItem
from tests.test_pdf import pdf_font_names

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


def test_a_receipt_printed_while_another_write_runs_waits_for_it(app, client, login, sale, shop):
    """Printing counts the print (a write during a GET): on SQLite it must wait for the write lock
    another request holds, not fail at once with "database is locked" (a 503 under load)."""
    import sqlite3
    import threading

    if db.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL locks the row and waits by itself")
    _, volunteer, *_ = shop
    login(volunteer)
    other = sqlite3.connect(db.engine.url.database, check_same_thread=False, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer, e.g. a sale being recorded
    release = threading.Timer(0.5, other.commit)
    release.start()
    response = client.get(f"/sales/{sale.id}/receipt.pdf")
    release.join()
    other.close()
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    db.session.expire_all()
    assert sale.print_count == 1
