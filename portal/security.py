"""Roles, who may do what, and the one place that scopes queries to a user's relay or territory."""
from functools import wraps

from flask import abort, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import current_user, login_required
from sqlalchemy import false, select, true


class Role:
    VOLUNTEER = "volunteer"
    MANAGER = "manager"
    COORDINATOR = "coordinator"
    ADMIN = "admin"
    LABELS = {
        VOLUNTEER: "Bénévole",
        MANAGER: "Référent·e",
        COORDINATOR: "Coordinateur·rice",
        ADMIN: "Administrateur·rice",
    }


ROLES = list(Role.LABELS)
RELAY_ROLES = (Role.VOLUNTEER, Role.MANAGER)


def roles_required(*roles):
    """Allow a view to logged-in users with one of these roles; others get 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def visible_relay_ids(user):
    """A subquery of the relay ids this user may see, or None for all of them."""
    from .relays.models import Relay

    if user.role == Role.ADMIN:
        return None
    if user.role == Role.COORDINATOR:
        return select(Relay.id).where(Relay.territory_id == user.territory_id)
    return select(Relay.id).where(Relay.id == user.relay_id)


def scope_clause(model, user=None):
    """The WHERE clause that limits `model` to what `user` (default: current) may see."""
    from .relays.models import Relay, Territory
    from .certificates.models import Certificate
    from .laptops.models import Laptop
    from .users.models import User
    from .workshops.models import WorkshopSession

    user = user or current_user
    if not user.is_authenticated:
        return false()
    if user.role == Role.ADMIN:
        return true()
    relay_ids = visible_relay_ids(user)
    if model is Territory:
        if user.role == Role.COORDINATOR:
            return Territory.id == user.territory_id
        return Territory.id == select(Relay.territory_id).where(Relay.id == user.relay_id).scalar_subquery()
    if model is Relay:
        return Relay.id.in_(relay_ids)
    if model is User:
        if user.role == Role.COORDINATOR:
            return User.relay_id.in_(relay_ids) | (User.territory_id == user.territory_id)
        if user.role == Role.MANAGER:
            return User.relay_id == user.relay_id
        return User.id == user.id
    if model in (WorkshopSession, Certificate) and user.role in RELAY_ROLES:
        # A relay also sees the sessions a mobile team holds for its people, and their certificates.
        return (model.relay_id == user.relay_id) | (model.host_relay_id == user.relay_id)
    if model is Laptop:
        # The fleet is the territory's: every relay of it books laptops for its workshops.
        if user.role == Role.COORDINATOR:
            return Laptop.territory_id == user.territory_id
        return Laptop.territory_id == select(Relay.territory_id).where(Relay.id == user.relay_id).scalar_subquery()
    # Every other model belongs to exactly one relay.
    return model.relay_id.in_(relay_ids)


def scoped(model, user=None):
    """`select(model)` limited to what the user may see."""
    return select(model).where(scope_clause(model, user))


def get_scoped_or_404(model, object_id: int, user=None):
    """Load one object the user may see, or answer 404 (never 403: it would confirm it exists)."""
    from .extensions import db

    obj = db.session.scalar(scoped(model, user).where(model.id == object_id))
    if obj is None:
        abort(404)
    return obj


def assignable_roles(user) -> list[str]:
    """Roles this user may give to an account they manage."""
    if user.role == Role.ADMIN:
        return ROLES
    if user.role == Role.COORDINATOR:
        return [Role.VOLUNTEER, Role.MANAGER, Role.COORDINATOR]
    if user.role == Role.MANAGER:
        return [Role.VOLUNTEER]
    return []


def can_manage_user(actor, target) -> bool:
    """Whether actor may edit, deactivate or reactivate target (already known to be visible)."""
    if actor.id == target.id:
        return False  # one does not deactivate or demote oneself
    return target.role in assignable_roles(actor)


def no_store(response):
    """after_request of the features that show people's data: never kept in a browser or proxy cache."""
    response.headers["Cache-Control"] = "no-store"
    return response


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie session, marked Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"] or request.is_secure)
