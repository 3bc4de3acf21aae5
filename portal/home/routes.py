"""Home page by role, and the health check."""
from flask import Blueprint, jsonify
from flask_login import current_user, login_required

from .. import htmx
from ..database import database_is_up
from ..extensions import db
from ..relays.models import Relay
from ..security import scoped

bp = Blueprint("home", __name__)


@bp.get("/")
@login_required
def index():
    relays = db.session.scalars(scoped(Relay).order_by(Relay.name)).all()
    return htmx.render("home/index.html", relays=relays, user=current_user)


@bp.get("/healthz")
def healthz():
    if database_is_up():
        return jsonify(status="ok", db="ok")
    return jsonify(status="error", db="unreachable"), 503
