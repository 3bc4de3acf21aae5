"""The only code that imports WeasyPrint: print templates to PDF bytes, and their HTML twins.

A document is data → template → bytes. A feature's `documents.py` builds the context from plain
values (dicts, lists, strings, numbers, dates: never database objects, so that the template
cannot reach a lazy relationship or a field it was not meant to print); a template under
`pdf/` extends `pdf/_document.html`; this module turns it into a PDF or into the same page
as HTML, for layout work and for printing from the browser.

WeasyPrint is imported inside the functions: the portal starts, and every other page works,
on a machine where its system libraries (Pango) are missing.
"""
import base64
import binascii
import re
import threading
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from flask import Response, current_app, render_template, url_for

# page_size given to a template: its <html data-page>, which print.css turns into the page's
# `size`. A5 is the default; 80 mm is the width of a thermal receipt roll, whose page is as tall
# as its content.
PAGE_SIZES = ("A5", "A4", "80mm")

# A roll has no page height of its own: the printer feeds the paper the page asks for, then cuts.
# So an 80 mm document is laid out once on a page taller than any receipt (print.css's named page
# `receipt`, made 3 m tall and without a bottom margin), then its page is cut ROLL_BOTTOM_MM below
# the element ROLL_END, the last of the document (_document.html), whose position WeasyPrint
# reports in Page.anchors. The cut changes only the page's height, which only the PDF writer reads
# (the media box, the flip of the y axis): the layout stays as it was. A stylesheet given to
# WeasyPrint is the user's, below print.css (the author's) in the cascade unless !important.
ROLL_END = "roll-end"
ROLL_LAYOUT = "@page receipt { size: 80mm 3000mm !important; margin-bottom: 0 !important }"
ROLL_BOTTOM_MM = 6
CSS_PX_PER_MM = 96 / 25.4

# Filenames end up in download folders and browser histories: code names them, never a person.
FILENAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\.pdf")

_font_config = None
# One FontConfiguration is reused so that @font-face fonts are decoded once per process. It is
# mutable shared state (Fontconfig config, caches) and WeasyPrint does not promise thread
# safety, while waitress serves with threads: renders take turns. They are CPU-bound under the
# GIL anyway, so this costs little.
_render_lock = threading.Lock()


class URLRefused(ValueError):
    """A document asked for a resource outside the app's static folder."""


# The one inline resource a document may carry: a PNG image in base64 (a certificate's QR code,
# drawn by segno: a few hundred bytes that WeasyPrint embeds far faster than an SVG path).
DATA_PNG = "data:image/png;base64,"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def static_only_fetcher(static_folder: str | Path):
    """A WeasyPrint URL fetcher that serves `file:` URLs inside `static_folder`, inline PNG images
    (`data:image/png;base64,…`) and nothing else: no other data: type, no network, no other file."""
    from weasyprint.urls import URLFetcher, URLFetcherResponse

    root = Path(static_folder).resolve()

    class StaticOnlyFetcher(URLFetcher):
        def fetch(self, url, headers=None):
            if url[:len(DATA_PNG)].lower() == DATA_PNG:
                return URLFetcherResponse(url, _png_data(url), {"Content-Type": "image/png"})
            path = _static_path(url, root)
            return super().fetch(path.as_uri(), headers)

    return StaticOnlyFetcher(allowed_protocols=("file",))


def _png_data(url: str) -> bytes:
    """The bytes of a `data:image/png;base64,` URL; URLRefused unless they are base64 of a PNG."""
    try:
        data = base64.b64decode(url[len(DATA_PNG):], validate=True)
    except binascii.Error:
        raise URLRefused(f"refused (not base64): {url[:80]}") from None
    if not data.startswith(PNG_SIGNATURE):
        raise URLRefused(f"refused (not a PNG image): {url[:80]}")
    return data


def _static_path(url: str, root: Path) -> Path:
    """The real path `url` names inside `root`; URLRefused for any other URL (http, data, …)."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        raise URLRefused(f"refused (not a local file): {url[:80]}")
    path = Path(url2pathname(parts.path)).resolve()  # url2pathname decodes %xx
    if not path.is_relative_to(root) or not path.is_file():
        raise URLRefused(f"refused (not a file of the static folder): {url[:80]}")
    return path


def render_pdf(template_name: str, **context) -> bytes:
    """Render a print template (extending pdf/_document.html) to PDF bytes.

    `context` holds plain values only (dicts, lists, strings, numbers, dates), never database
    objects; `page_size` may be one of PAGE_SIZES (default "A5"). Needs an app context.
    """
    from weasyprint import CSS, HTML

    html = _render_document(template_name, for_pdf=True, **context)
    static_folder = Path(current_app.static_folder).resolve()
    document = HTML(
        string=html,
        base_url=static_folder.as_uri() + "/",
        url_fetcher=static_only_fetcher(static_folder),
    )
    if context.get("page_size") != "80mm":
        with _render_lock:
            return document.write_pdf(font_config=_shared_font_config())
    roll_layout = CSS(string=ROLL_LAYOUT)
    with _render_lock:
        laid_out = document.render(font_config=_shared_font_config(), stylesheets=[roll_layout])
        _cut_roll(laid_out)
        return laid_out.write_pdf()


def _cut_roll(document) -> None:
    """Make the page of a laid-out 80 mm document end ROLL_BOTTOM_MM below its content."""
    page = document.pages[0]
    if len(document.pages) > 1 or ROLL_END not in page.anchors:
        raise ValueError("an 80 mm document must end with its roll-end mark on its one page")
    page.height = page.anchors[ROLL_END][1] + ROLL_BOTTOM_MM * CSS_PX_PER_MM


def pdf_response(template_name: str, filename: str, **context) -> Response:
    """The PDF shown in the browser (inline), never cached: documents carry personal data."""
    if not FILENAME.fullmatch(filename):
        raise ValueError(f"PDF filename must be plain ASCII ending in .pdf: {filename!r}")
    response = Response(render_pdf(template_name, **context), mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def html_twin(template_name: str, **context) -> Response:
    """The same document as an HTML page, never cached; same plain-value context as render_pdf."""
    response = Response(_render_document(template_name, for_pdf=False, **context),
                        mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


def _render_document(template_name: str, for_pdf: bool, **context) -> str:
    page_size = context.setdefault("page_size", "A5")
    if page_size not in PAGE_SIZES:
        raise ValueError(f"page_size must be one of {sorted(PAGE_SIZES)}: {page_size!r}")
    return render_template(
        template_name,
        # WeasyPrint resolves static files against base_url; a browser needs their URL.
        asset=(lambda name: name) if for_pdf else (lambda name: url_for("static", filename=name)),
        roll_end=ROLL_END,
        **context,
    )


def _shared_font_config():
    global _font_config
    if _font_config is None:
        from weasyprint.text.fonts import FontConfiguration

        _font_config = FontConfiguration()
    return _font_config
