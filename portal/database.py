"""Database details shared by every feature: UTC clock, SQLite pragmas, health check."""
from datetime import UTC, datetime

from sqlalchemy import event, text

from .extensions import db


def utcnow() -> datetime:
    """Now in UTC, naive (stored as such on SQLite and PostgreSQL alike)."""
    return datetime.now(UTC).replace(tzinfo=None)


def configure_engine(app) -> None:
    """SQLite pragmas on every new connection (a no-op on PostgreSQL)."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name != "sqlite":
        return
    synchronous = app.config["SQLITE_SYNCHRONOUS"]

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, connection_record):
        # WAL lets readers work during a write; FULL sync keeps acknowledged sales on power loss.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def database_is_up() -> bool:
    """True when a trivial query answers."""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver error means "down" for the health check
        db.session.rollback()
        return False
