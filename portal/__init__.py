"""Portail des Relais Numériques: the application factory."""
import os
import secrets
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from . import htmx
from .config import Defaults
from .extensions import compress, csrf, db, login_manager, migrate
from .forms import MAX_ID

WEAK_SECRETS = {"", "dev", "secret", "change-me", "changeme", "development", "test"}


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    """Build the app: defaults → instance/config.py → FLASK_* variables → test_config."""
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    app.config.from_object(Defaults)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env()
    if os.environ.get("FLASK_ENV"):
        app.config["ENV"] = os.environ["FLASK_ENV"]
    if test_config:
        app.config.from_mapping(test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    _configure_secret_key(app)
    if not app.config["SQLALCHEMY_DATABASE_URI"]:
        database = Path(app.instance_path) / "portal.sqlite3"
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{database}"
    app.config["SQLALCHEMY_DATABASE_URI"] = _with_driver(app.config["SQLALCHEMY_DATABASE_URI"])
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # A connection a database restart dropped is replaced before use instead of answering 503.
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {"pool_pre_ping": True, **app.config["SQLALCHEMY_ENGINE_OPTIONS"]}
    if app.config["TRUSTED_PROXIES"]:
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)

    from . import commands, database, errors, headers, security, static, templating

    db.init_app(app)
    database.configure_engine(app)
    migrate.init_app(app, db, directory=str(Path(app.root_path).parent / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    compress.init_app(app)
    app.session_interface = security.SessionInterface()
    htmx.init_app(app)
    headers.init_app(app)
    static.init_app(app)
    templating.init_app(app)
    errors.init_app(app)
    commands.init_app(app)
    app.url_map.converters["int"] = RecordIdConverter
    _register_blueprints(app)
    return app


class RecordIdConverter(IntegerConverter):
    """`<int:…>` in every URL: an id beyond the database's integers is no record (404), not a crash."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", MAX_ID)
        super().__init__(url_map, *args, **kwargs)


def _configure_secret_key(app: Flask) -> None:
    """Production needs a real key from its config; the embedded default makes one once."""
    key = app.config.get("SECRET_KEY")
    if app.config["ENV"] == "production":
        if not key or key in WEAK_SECRETS or len(key) < 32:
            raise RuntimeError(
                "Refusing to start in production without a strong SECRET_KEY "
                "(set FLASK_SECRET_KEY or SECRET_KEY in instance/config.py, 32+ characters)."
            )
        app.config["SESSION_COOKIE_SECURE"] = True
        return
    if key:
        return
    key_file = Path(app.instance_path) / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    app.config["SECRET_KEY"] = key_file.read_text().strip()


def _with_driver(url: str) -> str:
    """postgresql://… means the psycopg 3 driver, the one requirements.txt installs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _register_blueprints(app: Flask) -> None:
    from .cash import models as _cash  # noqa: F401
    from .sales import operations as _sales  # noqa: F401  (models, and the ledger's sale source)
    from .audit.routes import bp as audit_bp
    from .auth.routes import bp as auth_bp
    from .beneficiaries.routes import bp as beneficiaries_bp
    from .cash.routes import bp as cash_bp
    from .catalogue.routes import bp as catalogue_bp
    from .certificates.routes import bp as certificates_bp
    from .home.routes import bp as home_bp
    from .laptops.routes import bp as laptops_bp
    from .relays.routes import bp as relays_bp
    from .reports.routes import bp as reports_bp
    from .sales.routes import bp as sales_bp
    from .stock.routes import bp as stock_bp
    from .users.routes import bp as users_bp
    from .workshops.routes import bp as workshops_bp

    for bp in (home_bp, auth_bp, relays_bp, users_bp, audit_bp, beneficiaries_bp, sales_bp,
               catalogue_bp, stock_bp, cash_bp, workshops_bp, laptops_bp, certificates_bp,
               reports_bp):
        app.register_blueprint(bp)
