"""Accounts of volunteers, managers, coordinators and admins."""
import secrets
from datetime import datetime

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..clock import utcnow
from ..extensions import db
from ..relays.models import Relay, Territory
from ..security import ROLES, RELAY_ROLES, Role


def new_session_nonce() -> str:
    return secrets.token_urlsafe(12)


class User(UserMixin, db.Model):
    """A person who logs in. Deactivated, never deleted."""

    __tablename__ = "app_user"  # "user" is reserved in PostgreSQL

    __table_args__ = (
        CheckConstraint(f"role IN {tuple(ROLES)}", name="role_known"),
        CheckConstraint(
            "(role IN ('volunteer', 'manager') AND relay_id IS NOT NULL)"
            " OR (role = 'coordinator' AND territory_id IS NOT NULL)"
            " OR role = 'admin'",
            name="role_has_scope",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    relay_id: Mapped[int | None] = mapped_column(ForeignKey("relay.id"), index=True)
    territory_id: Mapped[int | None] = mapped_column(ForeignKey("territory.id"), index=True)
    active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Part of the session identity: rotating it ends every open session of the account.
    session_nonce: Mapped[str] = mapped_column(String(32), default=new_session_nonce)

    relay: Mapped[Relay | None] = relationship()
    territory: Mapped[Territory | None] = relationship()

    def __str__(self) -> str:
        return self.display_name

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_nonce}"

    def set_password(self, password: str) -> None:
        method = current_app.config["PASSWORD_HASH_METHOD"]
        self.password_hash = generate_password_hash(password, method=method)
        self.end_sessions()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        """Invalidate every session cookie issued for this account."""
        self.session_nonce = new_session_nonce()

    @property
    def role_label(self) -> str:
        return Role.LABELS[self.role]

    @property
    def works_in_relay(self) -> bool:
        return self.role in RELAY_ROLES

    @property
    def scope_label(self) -> str:
        if self.relay:
            return self.relay.name
        if self.territory:
            return self.territory.name
        return "Toutes les structures"
