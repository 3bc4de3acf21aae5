"""The audit log, read by admins."""
from flask import Blueprint, request
from sqlalchemy import select

from .. import htmx
from ..extensions import db
from ..forms import record_id
from ..security import Role, roles_required
from .models import AuditEvent

bp = Blueprint("audit", __name__, url_prefix="/audit")

PAGE_SIZE = 50


@bp.get("/")
@roles_required(Role.ADMIN)
def index():
    action = request.args.get("action", "").strip()[:40]
    page = request.args.get("page", 1, type=record_id)
    page = max(page, 1)
    query = select(AuditEvent).order_by(AuditEvent.id.desc())
    if action:
        query = query.where(AuditEvent.action.startswith(action))
    events = db.paginate(query, page=page, per_page=PAGE_SIZE, error_out=False)
    actions = db.session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    return htmx.render("audit/index.html", "events", events=events, action=action, actions=actions)
