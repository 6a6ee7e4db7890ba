# Sibyl: `make demo` to try it, `make test` to check it (`make check` for the fast part), `make lint` for its linters
# and type checker.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
NODE_MODULES := tracker_js/node_modules/.package-lock.json
NODE_SDK := tests/node_sdk/node_modules/.package-lock.json
FIREFOX_DRIVER := tests/firefox_driver/node_modules/.package-lock.json

.PHONY: demo test check lint format build install chromium engines imap runtime serve worker clean screenshots bench

install: $(VENV)/.installed $(NODE_MODULES)

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,lint]'
	touch $@

$(NODE_MODULES): tracker_js/package.json tracker_js/package-lock.json
	cd tracker_js && npm ci --no-audit --no-fund

# Brevo's official Node SDK, pinned, for the tests that call the server with it (tests/test_node_sdk.py).
$(NODE_SDK): tests/node_sdk/package.json tests/node_sdk/package-lock.json
	npm ci --prefix tests/node_sdk --no-audit --no-fund

build: install
	$(PY) -m build_tracker

# Playwright's own Chromium where it can be downloaded, Debian's `chromium` where it cannot.
chromium: install
	@command -v chromium >/dev/null 2>&1 \
	  || $(VENV)/bin/playwright install chromium \
	  || (apt-get update -qq && apt-get install -y -qq chromium)

# Firefox and WebKit for tests/test_engines.py, Debian's stock builds (Playwright's own cannot be downloaded here):
# Firefox driven by Puppeteer over WebDriver BiDi (pinned in tests/firefox_driver), WebKitGTK by Selenium through
# WebKitWebDriver on an Xvfb display (tests/support/engines.py).
engines: install $(FIREFOX_DRIVER)
	@command -v firefox-esr >/dev/null 2>&1 && command -v WebKitWebDriver >/dev/null 2>&1 && command -v Xvfb >/dev/null 2>&1 \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq firefox-esr webkit2gtk-driver xvfb)

# A real IMAP server for tests/test_bounces.py (`bounces read imap://…`): Debian's Dovecot, started by the test itself.
imap:
	@test -x /usr/sbin/dovecot \
	  || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends dovecot-imapd)

$(FIREFOX_DRIVER): tests/firefox_driver/package.json tests/firefox_driver/package-lock.json
	npm ci --prefix tests/firefox_driver --no-audit --no-fund

demo: build
	$(PY) -m demo_site.launch

# The suite on SQLite, then on PostgreSQL when SIBYL_TEST_POSTGRES_URL names a server (.ci/run sets it).
test: build chromium engines imap $(NODE_SDK)
	$(PY) -m pytest
	@if [ -n "$$SIBYL_TEST_POSTGRES_URL" ]; then \
	  SIBYL_TEST_DATABASE=postgres $(PY) -m pytest; \
	else \
	  echo "PostgreSQL run skipped: set SIBYL_TEST_POSTGRES_URL=postgresql+psycopg://USER@HOST:5432/DB to run the suite there too"; \
	fi

# The fast part of the suite while working, on SQLite: no browser, nothing marked slow (pyproject.toml's markers).
check: build $(NODE_SDK)
	$(PY) -m pytest -m "not browser and not slow"

# ruff (lint, import order and layout) and mypy (strict types) over all the Python, as pyproject.toml configures them.
LINT_PATHS := server build_tracker demo_site bench tests scripts
lint: $(VENV)/.installed
	$(VENV)/bin/ruff check $(LINT_PATHS)
	$(VENV)/bin/ruff format --check $(LINT_PATHS)
	$(VENV)/bin/mypy $(LINT_PATHS)

# Lay the Python out as `make lint` expects it (ruff format), and apply ruff's safe fixes (import order).
format: $(VENV)/.installed
	$(VENV)/bin/ruff format $(LINT_PATHS)
	$(VENV)/bin/ruff check --fix $(LINT_PATHS)

# The benchmarks side by side, one table (PostgreSQL rows too when SIBYL_BENCH_POSTGRES_URL names a server).
# BENCH_ARGS="--quick" for a smoke run, "--only tracker,ingest" for some areas.
bench: build chromium
	$(PY) -m bench $(BENCH_ARGS)

# Production: the web tier under gunicorn (WEB_WORKERS processes of WEB_THREADS threads, server/gunicorn_conf.py),
# migrations applied once first, on a runtime-only virtualenv: the package as `pip install .` installs it, with the
# built sa.js committed in server/tracker_dist, and its runtime dependencies; no Node, npm, esbuild or test extras.
# Both commands run in the checkout, so the data stays in instance/ unless SIBYL_DATABASE_URL says otherwise.
# Gunicorn's log shows the start-up warnings (no worker, no mail server, no public URL or secret key).
# On the internet, put a buffering proxy in front (docs/deployment.md). Run automation workers beside it with
# `make worker` (as many as you like, on any machine).
SERVE_VENV ?= .venv-serve
SERVE_BIN := $(SERVE_VENV)/bin
WEB_WORKERS ?= 4
WEB_THREADS ?= 4
BIND ?= 127.0.0.1:8000

# Reinstalled whenever the package's files change (a `git pull`), so that the virtualenv runs what the checkout holds.
$(SERVE_VENV)/.installed: pyproject.toml $(shell find server -type f -not -name '*.pyc')
	test -x $(SERVE_BIN)/python || $(PYTHON) -m venv $(SERVE_VENV)
	$(SERVE_BIN)/python -m pip install --quiet --upgrade pip
	$(SERVE_BIN)/python -m pip install --quiet .
	touch $@

runtime: $(SERVE_VENV)/.installed

serve: runtime
	$(SERVE_BIN)/flask --app server db upgrade
	SIBYL_WORKER=external SIBYL_AUTO_MIGRATE=0 $(SERVE_BIN)/gunicorn -c python:server.gunicorn_conf --workers $(WEB_WORKERS) --threads $(WEB_THREADS) --bind $(BIND) \
	  --access-logfile - 'server:create_app()'

worker: runtime
	SIBYL_AUTO_MIGRATE=0 $(SERVE_BIN)/flask --app server worker

# The docs' screenshots (docs/screenshots/*.png): the dashboard's from a seeded demo database, and the default email layout's, in Chromium.
screenshots: build chromium
	$(PY) -m scripts.screenshots

# Leaves server/tracker_dist: the built tracker is committed (`python -m build_tracker` rewrites it).
clean:
	rm -rf $(VENV) $(SERVE_VENV) tracker_js/node_modules tests/node_sdk/node_modules tests/firefox_driver/node_modules \
	  tracker_js/dist build
