"""WSGI entry point: `waitress-serve wsgi:app` or `gunicorn wsgi:app`."""
import gc

from portal import create_app

app = create_app()
# What start-up made lives as long as the process: keep it out of the collector's full passes,
# which otherwise walk every module, model and template each time (measured: +150 ms on one
# report page in five; docs/BENCHMARKS.md, dashboard).
gc.collect()
gc.freeze()
