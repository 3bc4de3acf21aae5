"""Login throttling: too many recent failures for an account or an address."""
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from ..audit.models import AuditEvent
from ..clock import utcnow
from ..extensions import db


def _recent_failures(column, value: str) -> int:
    """Failures for this e-mail or IP in the window, since its last successful login."""
    window_start = utcnow() - timedelta(minutes=current_app.config["LOGIN_FAILURE_WINDOW_MINUTES"])
    last_success = db.session.scalar(
        select(func.max(AuditEvent.at)).where(
            AuditEvent.action == "login.success", column == value, AuditEvent.at >= window_start
        )
    )
    since = max(window_start, last_success) if last_success else window_start
    return db.session.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "login.failure", column == value, AuditEvent.at > since
        )
    )


def login_blocked(email: str, ip: str) -> bool:
    """True when the account or the address reached LOGIN_MAX_FAILURES in the window."""
    limit = current_app.config["LOGIN_MAX_FAILURES"]
    return (bool(email) and _recent_failures(AuditEvent.email, email) >= limit) or (
        bool(ip) and _recent_failures(AuditEvent.ip, ip) >= limit
    )
