"""Default configuration; instance/config.py, FLASK_* variables and the test dict override it."""
from datetime import timedelta


class Defaults:
    """Settings for the embedded default (SQLite + waitress)."""

    # ENV = "production" turns on the production checks (secret key, secure cookies).
    ENV = "embedded"
    SECRET_KEY = None  # generated once into instance/secret_key unless set
    SQLALCHEMY_DATABASE_URI = None  # defaults to instance/portal.sqlite3
    SQLALCHEMY_ENGINE_OPTIONS: dict = {}
    SQLITE_SYNCHRONOUS = "FULL"  # an acknowledged sale survives a power cut

    SESSION_COOKIE_NAME = "relais_session"
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = False  # also set on every HTTPS request, see security.py
    # The session cookie ends with the browser (a shared office PC forgets the login when closed);
    # the server refuses a session signed more than 10 hours ago, and logs out after an idle hour.
    PERMANENT_SESSION_LIFETIME = timedelta(hours=10)
    IDLE_TIMEOUT_MINUTES = 60

    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session
    WTF_CSRF_SSL_STRICT = True
    WTF_I18N_ENABLED = False  # WTForms' own French messages (see portal/forms.py)

    LOGIN_MAX_FAILURES = 5
    LOGIN_FAILURE_WINDOW_MINUTES = 15
    PASSWORD_MIN_LENGTH = 10
    PASSWORD_HASH_METHOD = "scrypt"  # werkzeug method; tests use a cheaper one

    # Number of reverse proxies in front of the app whose X-Forwarded-* are trusted.
    TRUSTED_PROXIES = 0

    COMPRESS_ALGORITHM = ["br", "gzip"]
    COMPRESS_MIMETYPES = [
        "text/html", "text/css", "text/javascript", "application/javascript",
        "application/json", "text/csv", "image/svg+xml",
    ]
    STATIC_MAX_AGE = 31536000

    # Beneficiaries: eligibility lasts ELIGIBILITY_MONTHS and may be renewed this many times
    # before a full check; records without activity for RETENTION_MONTHS are anonymised.
    ELIGIBILITY_MONTHS = 9
    ELIGIBILITY_MAX_RENEWALS = 2
    ELIGIBILITY_WARNING_DAYS = 30
    RETENTION_MONTHS = 24
    NOTICE_VERSION = "2026-11"
    BENEFICIARIES_PER_PAGE = 25

    # Sales: recharges per person and calendar month; the ledger key defaults to one derived
    # from SECRET_KEY (changing either makes existing chains unverifiable: keep them safe).
    RECHARGE_MONTHLY_CAP_CENTS = 3000
    LEDGER_KEY = None

    # Scheme and host printed on documents that link back to the portal (the certificates' QR
    # code), e.g. "https://relais.example.org"; None: those of the request.
    PUBLIC_URL = None

    # Reports: a count of people (or of their purchases) from 1 to REPORT_SMALL_COUNT - 1 is shown
    # as "< 5" in pages and exports; a relay without activity for SILENT_DAYS is flagged.
    REPORT_SMALL_COUNT = 5
    SILENT_DAYS = 14

    TIMEZONE = "Europe/Paris"
    LOCALE = "fr_FR"
