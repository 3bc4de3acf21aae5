"""Writing to the audit log."""
from flask import has_request_context, request
from flask_login import current_user

from ..extensions import db
from .models import AuditEvent


def client_ip() -> str:
    return (request.remote_addr or "") if has_request_context() else ""


def record_event(action: str, subject: str = "", detail: str = "", email: str = "", actor=None) -> AuditEvent:
    """Add an audit line to the session; the caller's commit writes it with the change it records."""
    if actor is None and has_request_context() and current_user.is_authenticated:
        actor = current_user
    event = AuditEvent(
        action=action, subject=subject, detail=detail[:500], email=email[:254],
        ip=client_ip(), actor_id=actor.id if actor else None,
    )
    db.session.add(event)
    return event
