"""Territories (admins) and relays (admins and coordinators)."""
from flask import Blueprint, flash, url_for
from flask_login import current_user
from sqlalchemy import func, select

from .. import htmx
from ..audit.operations import record_event
from ..extensions import db
from ..ledger.operations import verify_relay
from ..security import Role, get_scoped_or_404, roles_required, scoped
from ..users.models import User
from .forms import RelayForm, TerritoryForm
from .models import Relay, Territory

bp = Blueprint("relays", __name__)

MANAGERS = (Role.COORDINATOR, Role.ADMIN)


@bp.get("/territories/")
@roles_required(Role.ADMIN)
def territories():
    rows = db.session.scalars(select(Territory).order_by(Territory.name)).all()
    return htmx.render("relays/territories.html", territories=rows)


@bp.route("/territories/new", methods=["GET", "POST"])
@bp.route("/territories/<int:territory_id>/edit", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def edit_territory(territory_id: int | None = None):
    territory = get_scoped_or_404(Territory, territory_id) if territory_id else Territory()
    form = TerritoryForm(obj=territory)
    if form.validate_on_submit():
        if _name_taken(Territory, form.name.data, territory.id):
            form.name.errors.append("Un territoire porte déjà ce nom.")
        else:
            form.populate_obj(territory)
            db.session.add(territory)
            db.session.flush()
            record_event("territory.save", subject=f"territory:{territory.id}", detail=territory.name)
            db.session.commit()
            flash(f"Territoire « {territory.name} » enregistré.", "success")
            return htmx.redirect_to(url_for("relays.territories"))
    status = 422 if form.is_submitted() else 200
    return htmx.render("relays/territory_form.html", "form", form=form, territory=territory, status=status)


@bp.get("/relays/")
@roles_required(*MANAGERS)
def index():
    relays = db.session.scalars(scoped(Relay).order_by(Relay.active.desc(), Relay.name)).all()
    counts = dict(db.session.execute(
        select(User.relay_id, func.count()).where(User.active).group_by(User.relay_id)
    ).all())
    return htmx.render("relays/index.html", relays=relays, counts=counts)


@bp.get("/relays/<int:relay_id>")
@roles_required(Role.MANAGER, *MANAGERS)
def show(relay_id: int):
    relay = get_scoped_or_404(Relay, relay_id)
    users = db.session.scalars(
        scoped(User).where(User.relay_id == relay.id).order_by(User.active.desc(), User.display_name)
    ).all()
    ledger_problem = verify_relay(relay.id) if current_user.role in MANAGERS else None
    return htmx.render("relays/show.html", relay=relay, users=users, ledger_problem=ledger_problem)


@bp.route("/relays/new", methods=["GET", "POST"])
@bp.route("/relays/<int:relay_id>/edit", methods=["GET", "POST"])
@roles_required(*MANAGERS)
def edit(relay_id: int | None = None):
    relay = get_scoped_or_404(Relay, relay_id) if relay_id else Relay(active=True)
    form = RelayForm(obj=relay)
    form.territory_id.choices = [
        (t.id, t.name) for t in db.session.scalars(scoped(Territory).order_by(Territory.name))
    ]
    if current_user.role == Role.COORDINATOR and not form.is_submitted():
        form.territory_id.data = current_user.territory_id
    if form.validate_on_submit() and _is_unique(form, relay):
        form.populate_obj(relay)
        db.session.add(relay)
        db.session.flush()
        record_event("relay.save", subject=f"relay:{relay.id}",
                     detail=f"{relay.code} {relay.name} actif={relay.active}")
        db.session.commit()
        flash(f"Structure « {relay.name} » enregistrée.", "success")
        return htmx.redirect_to(url_for("relays.show", relay_id=relay.id))
    status = 422 if form.is_submitted() else 200
    return htmx.render("relays/form.html", "form", form=form, relay=relay, status=status)


def _is_unique(form: RelayForm, relay: Relay) -> bool:
    """Name and code belong to no other relay; otherwise say so next to the field."""
    if _name_taken(Relay, form.name.data, relay.id):
        form.name.errors.append("Une structure porte déjà ce nom.")
    clash = select(Relay.id).where(Relay.code == form.code.data)
    if relay.id:
        clash = clash.where(Relay.id != relay.id)
    if db.session.scalar(clash):
        form.code.errors.append("Ce code est déjà utilisé par une autre structure.")
    return not (form.name.errors or form.code.errors)


def _name_taken(model, name: str, own_id: int | None) -> bool:
    clash = select(model.id).where(func.lower(model.name) == name.lower())
    if own_id:
        clash = clash.where(model.id != own_id)
    return db.session.scalar(clash) is not None
