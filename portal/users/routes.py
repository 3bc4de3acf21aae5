"""Accounts: admins manage all, coordinators their territory, managers their relay's volunteers."""
from flask import Blueprint, abort, flash, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import htmx
from ..audit.operations import record_event
from ..extensions import db
from ..relays.models import Relay, Territory
from ..security import (RELAY_ROLES, Role, assignable_roles, can_manage_user,
                        get_scoped_or_404, roles_required, scoped)
from .forms import NO_CHOICE, UserForm
from .models import User

bp = Blueprint("users", __name__, url_prefix="/users")

MANAGERS = (Role.MANAGER, Role.COORDINATOR, Role.ADMIN)


@bp.get("/")
@roles_required(*MANAGERS)
def index():
    users = db.session.scalars(
        scoped(User).order_by(User.active.desc(), User.role, User.display_name)
    ).all()
    return htmx.render("users/index.html", users=users, can_manage=can_manage_user)


@bp.route("/new", methods=["GET", "POST"])
@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit(user_id: int | None = None):
    user = get_scoped_or_404(User, user_id) if user_id else None
    if user and not can_manage_user(current_user, user):
        abort(403)
    form = UserForm(obj=user, creating=user is None)
    _fill_choices(form)
    if user is None and not form.is_submitted():
        form.role.data = Role.VOLUNTEER
        form.relay_id.data = current_user.relay_id or NO_CHOICE
        form.territory_id.data = current_user.territory_id or NO_CHOICE
    if form.validate_on_submit() and _email_is_free(form, user):
        user = _save(form, user)
        flash(f"Compte de {user.display_name} enregistré.", "success")
        return htmx.redirect_to(url_for("users.index"))
    status = 422 if form.is_submitted() else 200
    return htmx.render("users/form.html", "form", form=form, user=user, status=status)


@bp.post("/<int:user_id>/deactivate")
@roles_required(*MANAGERS)
def deactivate(user_id: int):
    return _set_active(user_id, False)


@bp.post("/<int:user_id>/activate")
@roles_required(*MANAGERS)
def activate(user_id: int):
    return _set_active(user_id, True)


def _set_active(user_id: int, active: bool):
    """Deactivate (never delete) or reactivate an account; either way its sessions end."""
    user = get_scoped_or_404(User, user_id)
    if not can_manage_user(current_user, user):
        abort(403)
    user.active = active
    user.end_sessions()
    record_event("user.activate" if active else "user.deactivate", subject=f"user:{user.id}", detail=user.email)
    db.session.commit()
    flash(f"Compte de {user.display_name} {'réactivé' if active else 'désactivé'}.", "success")
    return htmx.redirect_to(url_for("users.index"))


def _fill_choices(form: UserForm) -> None:
    """Only the roles, relays and territories the current user may give."""
    form.role.choices = [(r, Role.LABELS[r]) for r in assignable_roles(current_user)]
    relays = db.session.scalars(scoped(Relay).where(Relay.active).order_by(Relay.name))
    form.relay_id.choices = [(NO_CHOICE, "—")] + [(r.id, r.name) for r in relays]
    territories = db.session.scalars(scoped(Territory).order_by(Territory.name))
    form.territory_id.choices = [(NO_CHOICE, "—")] + [(t.id, t.name) for t in territories]


def _email_is_free(form: UserForm, user: User | None) -> bool:
    clash = select(User.id).where(User.email == form.email.data)
    if user:
        clash = clash.where(User.id != user.id)
    if db.session.scalar(clash):
        form.email.errors.append("Un compte utilise déjà cette adresse e-mail.")
        return False
    return True


def _save(form: UserForm, user: User | None) -> User:
    """Write the account; relay and territory follow from the role."""
    creating = user is None
    user = user or User()
    user.email = form.email.data
    user.display_name = form.display_name.data
    user.role = form.role.data
    user.relay_id = form.relay_id.data if user.role in RELAY_ROLES else None
    user.territory_id = form.territory_id.data if user.role == Role.COORDINATOR else None
    if form.password.data:
        user.set_password(form.password.data)
    db.session.add(user)
    db.session.flush()
    record_event("user.create" if creating else "user.update", subject=f"user:{user.id}",
                 detail=f"{user.email} rôle={user.role} structure={user.relay_id} territoire={user.territory_id}")
    db.session.commit()
    return user
