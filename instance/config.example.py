# Copy to instance/config.py and adapt. Every key can also be set as FLASK_<KEY> in the environment.

# ENV = "production"                  # refuses to start without a strong SECRET_KEY
# SECRET_KEY = "…64 random hex characters…"   # python3 -c 'import secrets; print(secrets.token_hex(32))'
# SQLALCHEMY_DATABASE_URI = "postgresql://portal@127.0.0.1:5432/portal"
# TRUSTED_PROXIES = 1                 # behind one reverse proxy (nginx) setting X-Forwarded-*
# IDLE_TIMEOUT_MINUTES = 60
# LOGIN_MAX_FAILURES = 5
# LOGIN_FAILURE_WINDOW_MINUTES = 15
