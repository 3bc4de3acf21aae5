"""Database details shared by every feature: SQLite pragmas and write transactions, health check."""
from contextlib import contextmanager

from flask import request
from sqlalchemy import event, text

from .extensions import db


def configure_engine(app) -> None:
    """Settings of every new connection: SQLite's pragmas; PostgreSQL without parallel workers, and
    planning each statement for its own values."""
    with app.app_context():
        engine = db.engine
    if engine.dialect.name == "postgresql":
        @event.listens_for(engine, "connect")
        def _postgresql_settings(dbapi_connection, connection_record):
            # The portal's statements read a few thousand index entries at most (reports read
            # summary tables, exports go a batch at a time): starting parallel workers costs more
            # than it saves (measured: 5–14 ms a statement of the dashboard over ten years).
            # Each statement is planned for its own values: once psycopg prepares a repeated
            # statement, a generic plan read a relay's whole (relay, created_at) index for each
            # batch of the sales journal (20 ms a batch instead of 2.5 ms).
            with dbapi_connection.cursor() as cursor:
                cursor.execute("SET max_parallel_workers_per_gather = 0")
                cursor.execute("SET plan_cache_mode = force_custom_plan")
            dbapi_connection.commit()
        return
    if engine.dialect.name != "sqlite":
        return
    synchronous = app.config["SQLITE_SYNCHRONOUS"]

    @app.before_request
    def _posts_write():
        # Every POST may write: it queues for the write lock up front instead of failing midway;
        # a POST that only recomputes a form (the sale screen's lines and totals) does not queue.
        if request.method == "POST" and app.view_functions.get(request.endpoint) not in _READ_ONLY_VIEWS:
            begin_write()

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection, connection_record):
        # The driver must not open transactions on its own: _sqlite_begin does, in the mode asked.
        dbapi_connection.isolation_level = None
        # WAL lets readers work during a write; FULL sync keeps acknowledged sales on power loss.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=10000")
        # Reads through the OS's page cache (mmap, up to 1 GiB of the file) and 32 MB of pages kept
        # per connection instead of 2 MB: a territory's report reads thousands of summary rows.
        cursor.execute("PRAGMA cache_size=-32000")
        cursor.execute("PRAGMA mmap_size=1073741824")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(connection):
        # A deferred transaction that reads, then writes, fails at once when another writer got
        # in between (no busy wait for a stale snapshot); a write transaction takes the lock first.
        immediate = connection.get_execution_options().get("write_transaction")
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


_READ_ONLY_VIEWS: set = set()


def read_only(view):
    """Mark a POST view that writes nothing (it recomputes a form from what was posted): on SQLite
    it does not wait for, nor hold, the write lock that every other POST takes first."""
    _READ_ONLY_VIEWS.add(view)
    return view


def begin_write() -> None:
    """Start the session's transaction as a writer: on SQLite it takes the write lock now
    (BEGIN IMMEDIATE, waiting up to busy_timeout), so that what it reads stays true until commit.
    Must come before any query of the transaction. On PostgreSQL, lock rows explicitly
    (SELECT … FOR UPDATE) instead."""
    if db.session().in_transaction():
        db.session.commit()
    db.session.connection(execution_options={"write_transaction": True})


@contextmanager
def write_transaction():
    """Run the block in one write transaction (begin_write): committed when the block ends, rolled
    back when anything is raised, which goes on to the caller."""
    begin_write()
    try:
        yield
        db.session.commit()
    except BaseException:  # an interrupted command too leaves nothing half-written
        db.session.rollback()
        raise


def database_is_up() -> bool:
    """True when a trivial query answers."""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except Exception:  # any driver error means "down" for the health check
        db.session.rollback()
        return False
