"""The only code that reads or writes HX-* headers: page or fragment, redirects, events, toasts."""
import json

from flask import Response, get_flashed_messages, redirect, render_template, request, session
from jinja2_fragments.flask import render_block


def is_htmx() -> bool:
    """The request was sent by htmx (not a plain link or form)."""
    return request.headers.get("HX-Request") == "true"


def wants_fragment() -> bool:
    """htmx asked for a part of the page (not a full page nor a history restore)."""
    return (
        is_htmx()
        and request.headers.get("HX-Request-Type") == "partial"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def render(template: str, block: str | None = None, status: int = 200, **context):
    """The whole page, or only `block` of it when htmx asked for a fragment."""
    if block and wants_fragment():
        return render_block(template, block, **context), status
    return render_template(template, **context), status


def redirect_to(url: str) -> Response:
    """Go to `url`: the whole page for htmx (HX-Redirect), 303 See Other otherwise."""
    if is_htmx():
        response = Response(status=204)
        response.headers["HX-Redirect"] = url
        return response
    return redirect(url, code=303)


def trigger(response: Response, event: str, detail=None) -> Response:
    """Fire `event` on the page's body after the swap (HX-Trigger), merged with other events."""
    events = json.loads(response.headers.get("HX-Trigger", "{}"))
    events[event] = detail if detail is not None else {}
    response.headers["HX-Trigger"] = json.dumps(events)  # ASCII: headers are latin-1
    return response


def _after_request(response: Response) -> Response:
    response.vary.add("HX-Request")
    # A fragment does not carry the flash area: its messages travel as a toast event.
    if wants_fragment() and "_flashes" in session and "HX-Redirect" not in response.headers:
        messages = get_flashed_messages(with_categories=True)
        # Dispatched on <body>: the element that sent the request may have been swapped out.
        trigger(response, "toast", {"target": "body", "messages": [{"level": c, "text": m} for c, m in messages]})
    return response


def init_app(app) -> None:
    app.after_request(_after_request)
