"""Login, logout, password change, idle timeout."""
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from .. import htmx
from ..audit.operations import client_ip, record_event
from ..clock import utcnow
from ..extensions import db, login_manager
from ..users.models import User
from .forms import ChangePasswordForm, LoginForm
from .throttling import login_blocked

bp = Blueprint("auth", __name__)

FAILED = "Adresse e-mail ou mot de passe incorrect."
BLOCKED = ("Trop de tentatives de connexion. Pour protéger le compte, patientez 15 minutes "
           "puis réessayez, ou demandez à votre référent·e de vérifier votre mot de passe.")


@login_manager.user_loader
def load_user(session_id: str):
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = db.session.get(User, int(user_id))
    if user is None or not user.active or user.session_nonce != nonce:
        return None
    return user


@login_manager.unauthorized_handler
def unauthorized():
    flash("Connectez-vous pour continuer.", "info")
    return htmx.redirect_to(url_for("auth.login", next=request.full_path.rstrip("?")))


@bp.before_app_request
def end_idle_session():
    """Log out after IDLE_TIMEOUT_MINUTES without a request."""
    if not current_user.is_authenticated:
        return
    now = int(time.time())
    seen = session.get("seen", now)
    if now - seen > current_app.config["IDLE_TIMEOUT_MINUTES"] * 60:
        logout_user()
        session.clear()
        flash("Votre session a expiré après une période d'inactivité. Reconnectez-vous.", "info")
    elif now - seen > 60 or "seen" not in session:
        session["seen"] = now  # written at most once a minute: no new cookie on every request


def _safe_next(target: str | None) -> str:
    """Only a path of this site, never another host."""
    # Browsers read "/\\host" as "//host": refuse backslashes too.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target \
            and not urlsplit(target).netloc:
        return target
    return url_for("home.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return htmx.redirect_to(url_for("home.index"))
    form = LoginForm()
    if not form.validate_on_submit():
        return htmx.render("auth/login.html", "form", form=form, status=422 if form.is_submitted() else 200)
    if login_blocked(form.email.data, client_ip()):
        record_event("login.blocked", email=form.email.data)
        db.session.commit()
        form.form_errors.append(BLOCKED)
        return htmx.render("auth/login.html", "form", form=form, status=429)
    user = db.session.scalar(db.select(User).filter_by(email=form.email.data))
    if user is None or not user.active or not user.check_password(form.password.data):
        record_event("login.failure", email=form.email.data,
                     detail="compte désactivé" if user and not user.active else "")
        db.session.commit()
        form.form_errors.append(FAILED)
        return htmx.render("auth/login.html", "form", form=form, status=422)
    session.clear()  # no fixation: a fresh session for the logged-in user
    login_user(user)
    session["seen"] = int(time.time())
    user.last_login_at = utcnow()
    record_event("login.success", subject=f"user:{user.id}", email=user.email, actor=user)
    db.session.commit()
    return htmx.redirect_to(_safe_next(request.args.get("next")))


@bp.post("/logout")
@login_required
def logout():
    user = current_user._get_current_object()
    user.end_sessions()  # a copied cookie stops working too
    record_event("logout", subject=f"user:{user.id}", email=user.email)
    db.session.commit()
    logout_user()
    session.clear()
    flash("Vous êtes déconnecté·e.", "info")
    return htmx.redirect_to(url_for("auth.login"))


@bp.route("/password", methods=["GET", "POST"])
@login_required
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        if not user.check_password(form.current.data):
            form.current.errors.append("Le mot de passe actuel n'est pas le bon.")
        else:
            user.set_password(form.new.data)
            record_event("user.password", subject=f"user:{user.id}")
            db.session.commit()
            login_user(user)  # the new session identity replaces the old one
            flash("Votre mot de passe a été changé. Vos autres sessions ont été fermées.", "success")
            return htmx.redirect_to(url_for("home.index"))
    status = 422 if form.is_submitted() else 200
    return htmx.render("auth/password.html", "form", form=form, status=status)
