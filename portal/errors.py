"""Error pages in French, as full pages or as htmx fragments; the refusal operations raise."""
from flask import g
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException, InternalServerError

from . import htmx
from .extensions import db, login_manager

RETRY_AFTER_SECONDS = 30  # 503: when a browser, proxy or monitor may try again

MESSAGES = {
    400: ("Demande invalide", "La demande n'a pas pu être traitée. Rechargez la page et réessayez."),
    403: ("Accès refusé", "Votre compte ne permet pas d'ouvrir cette page."),
    404: ("Page introuvable", "Cette page n'existe pas, ou elle n'est pas accessible avec votre compte."),
    405: ("Action impossible", "Cette action n'est pas possible ici."),
    413: ("Envoi trop volumineux", "Les données envoyées sont trop volumineuses."),
    429: ("Trop de tentatives", "Trop de tentatives. Patientez quelques minutes avant de réessayer."),
    500: ("Erreur du serveur", "Une erreur est survenue de notre côté. Rien n'a été enregistré ; réessayez dans un instant."),
    503: ("Service indisponible", "Le portail est momentanément indisponible. Réessayez dans quelques minutes : "
                                  "rien de ce qui a été enregistré n'est perdu, et une vente envoyée pendant la "
                                  "coupure peut être renvoyée sans risque de doublon."),
}


class Refused(Exception):
    """An operation that cannot be done; `message` says why in French, `field` where (if known)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def render_error(status: int, message: str | None = None):
    """The error page (or its fragment) for an HTTP status."""
    title, default = MESSAGES.get(status, MESSAGES[500])
    return htmx.render(
        "errors/error.html", "error", status=status,
        code=status, title=title, message=message or default,
    )


def _http_error(error: HTTPException):
    return render_error(error.code or 500, getattr(error, "french", None))


def _csrf_error(error: CSRFError):
    return render_error(400, "Le formulaire a expiré ou n'est pas valide. Rechargez la page et recommencez.")


def _server_error(error: InternalServerError):
    db.session.rollback()
    return render_error(500)


def _database_down(error: DBAPIError):
    db.session.rollback()
    if not error.connection_invalidated and not _is_connection_error(error):
        raise error
    # The page must not need the database: it is shown as to a visitor (no menu), since the
    # user's row cannot be read (and what was read is expired by the rollback).
    g._login_user = login_manager.anonymous_user()
    body, status = render_error(503)
    return body, status, {"Retry-After": str(RETRY_AFTER_SECONDS)}


def _is_connection_error(error: DBAPIError) -> bool:
    text = str(error.orig).lower()
    return any(word in text for word in ("connect", "unable to open", "locked", "terminat", "closed"))


def init_app(app) -> None:
    app.register_error_handler(DBAPIError, _database_down)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(InternalServerError, _server_error)
    app.register_error_handler(HTTPException, _http_error)
