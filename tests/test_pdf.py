"""Printed documents: the information notice as PDF bytes and HTML twin, the fonts that cover
every script of the people served, and a URL fetcher that stays inside the static folder."""
import base64
import io
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import segno
from fontTools.ttLib import TTFont
from jinja2 import ChoiceLoader, DictLoader
from pypdf import PdfReader

from portal import pdf

STATIC = Path(pdf.__file__).parent / "static"
FONTS = STATIC / "vendor" / "fonts"
DEJAVU = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Debian's fonts-dejavu-core

NAMES = [
    "Zoé Lefèvre-Ångström", "François Nguyễn",  # Latin with diacritics
    "Олена Шевченко", "Андрій Коваленко",  # Cyrillic
    "محمد نادری", "فرشته احمدزی",  # Arabic script: Dari, Pashto
    "ሰላም ተስፋይ", "ኤርምያስ ገብረመድህን",  # Ge'ez: Tigrinya
]
ARABIC = set(NAMES[4:6])

# A page that prints the names in regular and in bold, as a receipt or a certificate would.
NAMES_TEMPLATE = """{% extends "pdf/_document.html" %}{% from "pdf/_macros.html" import person %}
{% block title %}Noms{% endblock %}
{% block content %}<h1>Personnes inscrites</h1>
<ul>{% for name in names %}<li>{{ person(name) }} est inscrite à l’atelier.</li>{% endfor %}</ul>
<p><strong>{% for name in names %}{{ person(name) }}{{ " · " if not loop.last }}{% endfor %}</strong></p>
{% endblock %}"""


def notice_context(relay_name: str, relay_address: str, retention_months: int,
                   notice_version: str) -> dict:
    """The plain-value context of pdf/notice.html (to move to beneficiaries/documents.py)."""
    return {
        "relay": {"name": relay_name, "address": relay_address},
        "retention_months": retention_months,
        "notice_version": notice_version,
    }


@pytest.fixture
def notice():
    return notice_context("Secours Populaire – Antenne de Gap", "8 rue de la Paix, 05000 Gap",
                          24, "2025-1")


@pytest.fixture
def names_page(app):
    """Register the names page beside the app's templates; returns its name."""
    app.jinja_loader = ChoiceLoader([app.jinja_loader, DictLoader({"test/names.html": NAMES_TEMPLATE})])
    return "test/names.html"


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def pdf_font_names(data: bytes) -> set[str]:
    """Base names of the fonts embedded in the PDF, without the subset prefix (ABCDEF+)."""
    names = set()
    for page in PdfReader(io.BytesIO(data)).pages:
        for font in page["/Resources"]["/Font"].values():
            names.add(str(font.get_object()["/BaseFont"]).lstrip("/").split("+")[-1])
    return names


def test_the_portal_starts_without_importing_weasyprint(tmp_path):
    code = ("import sys; from portal import create_app; "
            "create_app({'SECRET_KEY': 'k' * 40, 'SQLALCHEMY_DATABASE_URI': 'sqlite://'}, "
            f"instance_path={str(tmp_path)!r}); "
            "assert 'weasyprint' not in sys.modules, 'portal/pdf.py must import WeasyPrint lazily'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(pdf.__file__).parent.parent)


# --- the information notice --------------------------------------------------

def test_notice_pdf_says_what_is_recorded_why_and_the_rights(app, notice):
    data = pdf.render_pdf("pdf/notice.html", **notice)

    assert data.startswith(b"%PDF-")
    assert len(data) <= 60_000
    assert len(PdfReader(io.BytesIO(data)).pages) == 1
    text = " ".join(pdf_text(data).split())
    for sentence in [
        "Notice d’information sur vos données",
        "Secours Populaire – Antenne de Gap",
        "8 rue de la Paix, 05000 Gap",
        "Nous ne gardons jamais de copie ni de numéro de vos papiers d’identité.",
        "Pour vous donner les prix solidaires et les cartes SIM gratuites, si vous y avez droit.",
        "Seulement les bénévoles de ce relais.",
        "Ils ne voient jamais votre nom.",
        "Si vous ne venez pas pendant 24 mois, nous effaçons vos données",
        "Nous gardons les ventes pour la comptabilité, mais sans votre nom.",
        "Demandez à un bénévole du relais.",
        "www.cnil.fr",
        "version 2025-1",
    ]:
        assert sentence in text


@pytest.mark.parametrize("page_size, width_mm", [("A5", 148), ("A4", 210), ("80mm", 80)])
def test_page_size_is_chosen_by_the_context(app, notice, page_size, width_mm):
    data = pdf.render_pdf("pdf/notice.html", page_size=page_size, **notice)
    page = PdfReader(io.BytesIO(data)).pages[0]
    assert float(page.mediabox.width) == pytest.approx(width_mm / 25.4 * 72, abs=1)


def test_unknown_page_size_is_refused(app, notice):
    with pytest.raises(ValueError, match="page_size"):
        pdf.render_pdf("pdf/notice.html", page_size="Letter", **notice)


# --- fonts: every script of the people served ---------------------------------

def dejavu_path(bold: bool = False) -> str:
    """The system's DejaVu Sans, as Fontconfig (and so WeasyPrint) finds it."""
    family = "DejaVu Sans:bold" if bold else "DejaVu Sans"
    if shutil.which("fc-match"):
        found = subprocess.run(["fc-match", "-f", "%{file}", family],
                               capture_output=True, text=True, check=True).stdout
        if "DejaVuSans" in found:
            return found
    return DEJAVU.replace(".ttf", "-Bold.ttf") if bold else DEJAVU


@pytest.mark.parametrize("weight", [400, 700])
def test_every_character_of_the_names_is_in_a_font_of_the_stack(weight):
    fonts = [dejavu_path(bold=weight == 700)] + [
        FONTS / f"noto-sans-{script}-{script}-{weight}-normal.woff2" for script in ("arabic", "ethiopic")]
    missing_files = [str(f) for f in fonts if not Path(f).is_file()]
    assert not missing_files, f"run `make vendor` (and install fonts-dejavu-core): {missing_files}"
    cmaps = []
    for font in fonts:
        with TTFont(font) as ttfont:
            cmaps.append(ttfont.getBestCmap())

    uncovered = {char for char in "".join(NAMES) if not any(ord(char) in cmap for cmap in cmaps)}

    assert not uncovered, f"no font of the stack draws {sorted(uncovered)}"


def test_names_pdf_embeds_each_script_font_and_draws_no_empty_box(app, names_page, notice, caplog):
    caplog.set_level(logging.WARNING, logger="weasyprint")
    data = pdf.render_pdf(names_page, names=NAMES, **notice)

    fonts = {name.replace("-", "") for name in pdf_font_names(data)}
    for family in ("DejaVuSans", "NotoSansArabic", "NotoSansEthiopic"):
        assert any(font.startswith(family) for font in fonts), (family, fonts)
    # WeasyPrint says so when it draws .notdef (an empty box) for a character no font has.
    assert ".notdef" not in caplog.text
    assert "cannot be loaded" not in caplog.text  # an @font-face whose file is missing


def test_names_extract_from_the_pdf_text(app, names_page, notice):
    text = pdf_text(pdf.render_pdf(names_page, names=NAMES, **notice))

    for name in NAMES:
        if name in ARABIC and name != NAMES[4]:
            # Noto Sans Arabic draws letters as a shared dotless shape plus dots, and a PDF maps
            # each glyph to one text: after "نادری", the shape of ف extracts as ن. Only the first
            # Arabic name is sure to extract exactly; the glyph tests above cover the others.
            continue
        assert name in text, name


# --- the URL fetcher ---------------------------------------------------------

def png_bytes() -> bytes:
    """A small PNG image: a QR code as segno writes it for a certificate."""
    buffer = io.BytesIO()
    segno.make("https://relais.example.org/verify/ABCDE-FGH23").save(buffer, kind="png", border=0)
    return buffer.getvalue()


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:9/logo.png",
    "https://example.org/font.woff2",
    "data:text/css,body{color:red}",
    "data:image/svg+xml;base64," + base64.b64encode(b"<svg xmlns='http://www.w3.org/2000/svg'/>").decode(),
    "data:image/png," + png_bytes().hex(),  # not base64
    "data:image/png;base64,%%%%",  # not base64 either
    "data:image/png;base64," + base64.b64encode(b"GIF89a\x01\x00\x01\x00").decode(),  # a GIF, not a PNG
    "file:///etc/passwd",
    STATIC.as_uri() + "/../config.py",
    STATIC.as_uri() + "/vendor/%2e%2e/%2e%2e/config.py",
    "file://other-host" + (STATIC / "print.css").as_uri().removeprefix("file://"),
])
def test_fetcher_refuses_everything_outside_the_static_folder(app, url):
    fetcher = pdf.static_only_fetcher(app.static_folder)
    with pytest.raises(pdf.URLRefused):
        fetcher(url)


def test_fetcher_serves_a_file_of_the_static_folder(app):
    fetcher = pdf.static_only_fetcher(app.static_folder)
    response = fetcher((STATIC / "print.css").as_uri())
    try:
        assert b"@page" in response.read()
    finally:
        response.close()


def test_fetcher_serves_an_inline_png_image(app):
    """The one data: URL a document may hold (a certificate's QR code): base64 of a PNG image."""
    png = png_bytes()
    fetcher = pdf.static_only_fetcher(app.static_folder)
    response = fetcher("data:image/png;base64," + base64.b64encode(png).decode())
    try:
        assert response.content_type == "image/png"
        assert response.read() == png
    finally:
        response.close()


def test_a_document_asking_for_outside_resources_still_renders_without_them(app, notice, caplog):
    leaky = ('{% extends "pdf/notice.html" %}{% block content %}'
             '<img src="file:///etc/passwd"><img src="http://127.0.0.1:9/x.png">'
             '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">{{ super() }}{% endblock %}')
    app.jinja_loader = ChoiceLoader([app.jinja_loader, DictLoader({"test/leaky.html": leaky})])
    caplog.set_level(logging.WARNING, logger="weasyprint")

    data = pdf.render_pdf("test/leaky.html", **notice)

    assert data.startswith(b"%PDF-")
    assert caplog.text.count("URLRefused") == 3


# --- responses -----------------------------------------------------------------

def test_pdf_response_is_inline_and_never_cached(app, notice):
    response = pdf.pdf_response("pdf/notice.html", "notice-information.pdf", **notice)

    assert response.mimetype == "application/pdf"
    assert response.headers["Content-Disposition"] == 'inline; filename="notice-information.pdf"'
    assert response.headers["Cache-Control"] == "no-store"
    assert response.get_data().startswith(b"%PDF-")


@pytest.mark.parametrize("filename", ["notice.html", "Zoé.pdf", 'a".pdf', "a\r\nX: y.pdf", ""])
def test_pdf_response_refuses_a_filename_that_is_not_plain_ascii_pdf(app, notice, filename):
    with pytest.raises(ValueError, match="filename"):
        pdf.pdf_response("pdf/notice.html", filename, **notice)


def test_html_twin_is_the_same_document_for_the_browser(app, notice):
    with app.test_request_context():
        response = pdf.html_twin("pdf/notice.html", **notice)

    html = response.get_data(as_text=True)
    assert response.mimetype == "text/html"
    assert response.headers["Cache-Control"] == "no-store"
    assert '<html lang="fr" data-page="A5">' in html
    assert "Notice d’information sur vos données" in html and "version 2025-1" in html
    # The browser fetches the same stylesheet from the static route, and the fonts relative to it;
    # no inline style, which the Content-Security-Policy would refuse.
    assert 'href="/static/print.css?v=' in html
    assert "<style" not in html and " style=" not in html


def test_names_are_printed_with_their_own_direction(app, names_page, notice):
    with app.test_request_context():
        html = pdf.html_twin(names_page, names=NAMES, **notice).get_data(as_text=True)
    assert '<bdi dir="auto" class="name">محمد نادری</bdi>' in html
