"""Online, consistent backups while the portal runs: SQLite through its backup API, PostgreSQL
through pg_dump. Either way the copy is one transaction's snapshot: a sale is in it whole or not
at all, and every sale committed before the backup began is in it."""
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from urllib.parse import unquote

from sqlalchemy.engine import URL, make_url

from . import clock


class BackupFailed(Exception):
    """The backup could not be written; the message says why, in French."""


def default_backup_path(instance_path: str, database_url: str) -> Path:
    """instance/backups/portal-YYYYMMDD-HHMMSS.sqlite3 (SQLite) or .dump (PostgreSQL)."""
    suffix = ".sqlite3" if make_url(database_url).get_backend_name() == "sqlite" else ".dump"
    return Path(instance_path) / "backups" / f"portal-{clock.now():%Y%m%d-%H%M%S}{suffix}"


def backup_database(database_url: str, output: Path) -> Path:
    """Write a consistent copy of the database at `database_url` to `output`; returns `output`.

    The copy is written beside `output` under a temporary name and renamed at the end, so that a
    file bearing the final name is always a complete backup."""
    url = make_url(database_url)
    output = Path(output)
    if output.exists():
        raise BackupFailed(f"Le fichier {output} existe déjà : choisissez un autre nom.")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(output.name + ".partial")
    try:
        if url.get_backend_name() == "sqlite":
            _backup_sqlite(url.database, partial)
        elif url.get_backend_name() == "postgresql":
            _backup_postgresql(url, partial)
        else:
            raise BackupFailed(f"Sauvegarde impossible : base {url.get_backend_name()} non prise en charge.")
        partial.replace(output)
    finally:
        partial.unlink(missing_ok=True)
    return output


def _backup_sqlite(database: str | None, target: Path) -> None:
    """Copy the live file page by page in one read transaction (WAL: writers go on meanwhile)."""
    if not database or database == ":memory:" or not Path(database).is_file():
        raise BackupFailed(f"Base SQLite introuvable : {database or '(en mémoire)'}.")
    source = sqlite3.connect(database, timeout=30)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)  # pages=-1: the whole file in one step, hence one snapshot
        # A backup is one self-contained file: no -wal beside it.
        copy.execute("PRAGMA journal_mode=DELETE")
        check = copy.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.Error as error:
        raise BackupFailed(f"Sauvegarde SQLite interrompue : {error}.") from error
    finally:
        copy.close()
        source.close()
    if check != "ok":
        raise BackupFailed(f"La copie SQLite est incohérente ({check}).")
    with open(target, "rb") as written:
        os.fsync(written.fileno())


def _backup_postgresql(url: URL, target: Path) -> None:
    """pg_dump --format=custom: a snapshot taken in one repeatable-read transaction."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise BackupFailed("pg_dump introuvable : installez le client PostgreSQL (paquet postgresql-client).")
    dsn, password, schema = libpq_dsn(url)
    command = [pg_dump, "--format=custom", "--no-owner", f"--file={target}", f"--dbname={dsn}"]
    if schema:
        command.append(f"--schema={schema}")
    env = os.environ | ({"PGPASSWORD": password} if password else {})
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise BackupFailed(f"pg_dump a échoué : {done.stderr.strip() or done.returncode}.")


def libpq_dsn(url: URL) -> tuple[str, str | None, str | None]:
    """The URL as libpq reads it (postgresql+psycopg:// → postgresql://), without its password
    (kept out of the process list: returned apart, for PGPASSWORD), and the schema named by a
    `options=-csearch_path=…` parameter, if any (the portal's tables live there)."""
    password = url.password
    plain = url.set(drivername="postgresql")._replace(password=None)  # set() ignores None
    schema = None
    options = unquote(str(plain.query.get("options", "")))
    for option in options.split():
        name, _, value = option.removeprefix("-c").partition("=")
        if name.strip() == "search_path" and value:
            schema = value.split(",")[0].strip().strip('"')
    return plain.render_as_string(hide_password=False), password, schema
