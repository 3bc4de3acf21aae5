# Portail des Relais Numériques — make run · make test · make bench
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
export FLASK_APP := wsgi

.PHONY: run test test-e2e bench bench-check setup vendor db demo clean

run: setup db demo
	@echo "Portail : http://$(HOST):$(PORT)/  (Ctrl+C pour arrêter)"
	$(BIN)/waitress-serve --host $(HOST) --port $(PORT) --threads 8 wsgi:app

test: $(VENV)/.dev-installed vendor
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(VENV)/.dev-installed vendor
	$(BIN)/python -m pytest tests/bench -p no:cacheprovider -s

# Exits 1 when a figure of docs/benchmarks.json misses its budget or was never measured.
bench-check:
	$(PYTHON) tests/bench/check.py

setup: $(VENV)/.installed vendor

db: setup
	$(BIN)/flask db upgrade

demo: db
	$(BIN)/flask seed-demo

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: requirements.txt $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $@

# htmx (and, for tests, axe-core) come from the npm registry, pinned by package-lock.json.
# Without npm the portal still works: every page is plain HTML first.
# The PDFs' Arabic and Ge'ez fonts come from the same registry (Fontsource, SIL OFL): only the
# arabic/ethiopic subsets in regular and bold, with their licence; DejaVu comes from the system.
PDF_FONTS := noto-sans-arabic/files/noto-sans-arabic-arabic-400-normal.woff2 \
	noto-sans-arabic/files/noto-sans-arabic-arabic-700-normal.woff2 \
	noto-sans-ethiopic/files/noto-sans-ethiopic-ethiopic-400-normal.woff2 \
	noto-sans-ethiopic/files/noto-sans-ethiopic-ethiopic-700-normal.woff2

vendor:
	@if command -v npm >/dev/null 2>&1; then \
		[ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error; \
		mkdir -p portal/static/vendor/fonts; \
		cp node_modules/htmx.org/dist/htmx.min.js portal/static/vendor/htmx.min.js; \
		for font in $(PDF_FONTS); do cp node_modules/@fontsource/$$font portal/static/vendor/fonts/; done; \
		cp node_modules/@fontsource/noto-sans-arabic/LICENSE portal/static/vendor/fonts/OFL-noto-sans-arabic.txt; \
		cp node_modules/@fontsource/noto-sans-ethiopic/LICENSE portal/static/vendor/fonts/OFL-noto-sans-ethiopic.txt; \
	else \
		echo "npm introuvable : le portail fonctionne sans JavaScript (htmx non installé)."; \
		echo "npm introuvable : les PDF n'afficheront pas les noms en arabe ni en guèze."; \
	fi

clean:
	rm -rf $(VENV) node_modules portal/static/vendor .pytest_cache
