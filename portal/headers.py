"""Security headers on every response: pages, fragments, errors, static files, PDFs and CSV."""
from flask import request

# Everything the portal loads comes from itself: no inline script or style, no eval (htmx runs
# with includeIndicatorCSS off and no hx-on), no frame, no plugin. `data:` images: the empty
# favicon of base.html.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "object-src 'none'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers too old to read it
}

# Two years, the value browsers' preload lists ask for; sent only over HTTPS (RFC 6797 §7.2).
STRICT_TRANSPORT_SECURITY = "max-age=63072000"


def _add_security_headers(response):
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", STRICT_TRANSPORT_SECURITY)
    return response


def init_app(app) -> None:
    app.after_request(_add_security_headers)
