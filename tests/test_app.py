"""The application core: layered config, secret key, health check, static files, compression, errors."""
import gzip

import pytest

from portal import create_app
from portal.extensions import db

STRONG = "k" * 40


def test_config_layers_defaults_instance_env_test(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text('IDLE_TIMEOUT_MINUTES = 5\nLOGIN_MAX_FAILURES = 7\nTIMEZONE = "UTC"\n')
    monkeypatch.setenv("FLASK_LOGIN_MAX_FAILURES", "9")
    app = create_app({"TIMEZONE": "Europe/Paris"}, instance_path=str(tmp_path))
    assert app.config["PASSWORD_MIN_LENGTH"] == 10          # default
    assert app.config["IDLE_TIMEOUT_MINUTES"] == 5          # instance/config.py
    assert app.config["LOGIN_MAX_FAILURES"] == 9            # FLASK_* beats the instance file
    assert app.config["TIMEZONE"] == "Europe/Paris"         # the test dict beats everything


def test_embedded_default_generates_secret_once(tmp_path):
    first = create_app(instance_path=str(tmp_path)).config["SECRET_KEY"]
    second = create_app(instance_path=str(tmp_path)).config["SECRET_KEY"]
    assert len(first) >= 64 and first == second
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
    assert create_app(instance_path=str(tmp_path)).config["SQLALCHEMY_DATABASE_URI"] == (
        f"sqlite:///{tmp_path / 'portal.sqlite3'}")


@pytest.mark.parametrize("key", [None, "dev", "change-me", "short-key"])
def test_production_refuses_default_or_weak_secret(tmp_path, key):
    config = {"ENV": "production"} | ({"SECRET_KEY": key} if key else {})
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(config, instance_path=str(tmp_path))
    assert not (tmp_path / "secret_key").exists()


def test_production_with_strong_secret_has_secure_cookie(tmp_path):
    app = create_app({"ENV": "production", "SECRET_KEY": STRONG}, instance_path=str(tmp_path))
    assert app.config["SESSION_COOKIE_SECURE"] is True


def test_postgres_url_uses_psycopg3(tmp_path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": "postgresql://u@h/db", "SECRET_KEY": STRONG},
                     instance_path=str(tmp_path))
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u@h/db"


def test_healthz_ok(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "db": "ok"}


def test_healthz_503_when_database_unreachable(tmp_path):
    app = create_app({"SECRET_KEY": STRONG, "TESTING": True,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"},
                     instance_path=str(tmp_path))
    r = app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.json["db"] == "unreachable"


def test_pages_answer_french_503_when_database_unreachable(tmp_path):
    app = create_app({"SECRET_KEY": STRONG, "TESTING": True, "WTF_CSRF_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/dir/db.sqlite3"},
                     instance_path=str(tmp_path))
    r = app.test_client().post("/login", data={"email": "a@b.fr", "password": "x" * 12})
    assert r.status_code == 503
    assert "momentanément indisponible" in r.text
    with app.app_context():
        db.engine.dispose()


def test_static_url_has_content_hash_and_is_cached_a_year(client, app):
    page = client.get("/login").text
    assert "/static/app.css?v=" in page
    url = page.split('href="/static/app.css?v=')[1].split('"')[0]
    with client.get(f"/static/app.css?v={url}") as r:
        assert r.status_code == 200
        assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # Without the hash, no year-long promise: a stale file must not stick.
    with client.get("/static/app.css") as r:
        assert "immutable" not in r.headers.get("Cache-Control", "")


def test_html_is_compressed_when_accepted(client):
    r = client.get("/login", headers={"Accept-Encoding": "gzip"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert "Connexion" in gzip.decompress(r.data).decode()
    assert "Accept-Encoding" in r.headers["Vary"]


def test_not_found_is_a_french_page(client):
    r = client.get("/nowhere")
    assert r.status_code == 404
    assert "<html" in r.text and "Page introuvable" in r.text


def test_not_found_fragment_for_htmx(client):
    r = client.get("/nowhere", headers={"HX-Request": "true", "HX-Request-Type": "partial"})
    assert r.status_code == 404
    assert "<html" not in r.text and "Page introuvable" in r.text


def test_server_error_is_a_french_page(app, client):
    @app.get("/boom-test")
    def boom():
        raise RuntimeError("boom")

    app.testing = False  # let the error handler answer instead of re-raising
    r = client.get("/boom-test")
    assert r.status_code == 500
    assert "Erreur du serveur" in r.text and "<html" in r.text


@pytest.mark.parametrize("locale", ["fr_FR", "en_US"])
def test_amounts_and_numbers_read_as_babel_writes_them(tmp_path, locale):
    """The money filter formats by hand for speed; a receipt or a report must still read « 1 234,50 € »."""
    from babel.numbers import format_currency, format_decimal

    from portal.templating import money, number

    app = create_app({"LOCALE": locale}, instance_path=str(tmp_path))
    with app.app_context():
        for cents in (0, 1, 5, 99, 100, 105, 123450, -50, -123456789, 100000000, 99999999999):
            assert money(cents) == format_currency(cents / 100, "EUR", locale=locale), cents
        for value in (0, 7, 1234, -98765432, 0.5, 12.25, 3.14159, 1234.5, 99.9995, -0.125, 2.0, 1e9 + 0.1):
            assert number(value) == format_decimal(value, locale=locale), value
