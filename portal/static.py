"""Static files with a content hash in their URL, cached by browsers for a year."""
import hashlib
from functools import lru_cache
from pathlib import Path

from flask import current_app, request


@lru_cache(maxsize=256)
def _file_hash(path: str, mtime_ns: int) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:12]


def static_hash(filename: str) -> str | None:
    """Short hash of a static file's content, or None when it does not exist."""
    path = Path(current_app.static_folder) / filename
    try:
        return _file_hash(str(path), path.stat().st_mtime_ns)
    except OSError:
        return None


def _add_version(endpoint: str, values: dict) -> None:
    if endpoint == "static" and "filename" in values and "v" not in values:
        version = static_hash(values["filename"])
        if version:
            values["v"] = version


def _cache_forever(response):
    if request.endpoint == "static" and request.args.get("v") and response.status_code == 200:
        max_age = current_app.config["STATIC_MAX_AGE"]
        response.headers["Cache-Control"] = f"public, max-age={max_age}, immutable"
    return response


def init_app(app) -> None:
    app.url_defaults(_add_version)
    app.after_request(_cache_forever)
    app.jinja_env.globals["static_exists"] = lambda name: static_hash(name) is not None
