"""Plain-data context of attendance certificates (one page each), and the link their QR code holds."""
import base64
import io
from datetime import date
from urllib.parse import urlsplit

import segno
from flask import current_app, url_for

from ..pdf import DATA_PNG
from ..templating import local_date
from ..workshops.forms import format_duration
from .models import Certificate

TEMPLATE = "pdf/certificate.html"


def verify_url(code: str) -> str:
    """The absolute address of the public page that verifies a certificate. PUBLIC_URL, when set,
    gives its scheme and host (the portal may be reached under a private name on the relay's PC)."""
    public = current_app.config.get("PUBLIC_URL")
    if public:
        parts = urlsplit(public)
        adapter = current_app.url_map.bind(parts.netloc, script_name=parts.path or "/", url_scheme=parts.scheme)
        return adapter.build("certificates.verify_code", {"code": code}, force_external=True)
    return url_for("certificates.verify_code", code=code, _external=True)


def qr_png(url: str) -> str:
    """The QR code of `url` as a `data:image/png;base64,` URL (some 400 characters; no quiet zone: the
    page keeps white round it). WeasyPrint embeds a small PNG far faster than it draws the SVG path
    of the same code. Two pixels a module: the page scales it up without smoothing (pixelated),
    and a PDF viewer that smooths anyway (poppler below 4×) still leaves it readable at 72 dpi."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=2, border=0)
    return DATA_PNG + base64.b64encode(buffer.getvalue()).decode("ascii")


def certificate_context(certificate: Certificate, verify_url: str) -> dict:
    """One page of pdf/certificate.html: the facts as issued, and the person's name as it is now."""
    facts, person = certificate.facts, certificate.beneficiary
    return {
        "number": certificate.number,
        "code": certificate.code,
        "name": person.full_name,
        "title": facts["parcours"]["title"],
        "level": facts["parcours"]["level"],
        "themes": facts["parcours"]["themes"],
        "sessions": [{"date": local_date(day, "d MMMM y"), "day": local_date(day, "dd/MM/y"),
                      "duration": format_duration(s["minutes"]), "commune": s["commune"]}
                     for s in facts["sessions"] for day in [date.fromisoformat(s["date"])]],
        "sessions_count": certificate.sessions_count,
        "total": format_duration(certificate.minutes),
        "facilitators": facts["facilitators"],
        "organiser": facts["organiser"],
        "place": facts["place"],
        "issued_on": local_date(date.fromisoformat(facts["issued_on"]), "d MMMM y"),
        "verify_url": verify_url,
        "qr_png": qr_png(verify_url),
    }


def certificates_context(certificates: list[Certificate]) -> dict:
    """The whole document: a page per certificate (one for a single certificate), in the given order."""
    pages = [certificate_context(c, verify_url(c.code)) for c in certificates]
    organiser = pages[0]["organiser"]
    return {"page_size": "A4", "relay": {"name": organiser["name"], "address": "", "town": organiser["town"]},
            "certificates": pages}


def certificates_pdf(certificates: list[Certificate]) -> bytes:
    """The certificates as PDF bytes (a page each), without counting a print: for the demo and benchmarks."""
    from ..pdf import render_pdf

    return render_pdf(TEMPLATE, **certificates_context(certificates))
