"""WSGI entry point: `waitress-serve wsgi:app` or `gunicorn wsgi:app`."""
from portal import create_app

app = create_app()
