# Two commands: `make serve` and `make test`. Both set up everything they need from nothing.
# `make serve` installs only what serving needs (requirements.lock); `make test` and `make lint`
# add the development tools (requirements-dev.lock) to the same .venv.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# The installer: uv, pinned, put into the venv by the interpreter's own pip (the venv itself has
# no pip: `.venv/bin/uv pip install NAME` adds a package by hand). It installs the locks' exact
# pins in parallel; pip alone takes over a minute and a half for the runtime pins on this machine.
UV_VERSION := 0.13.9
UV_INSTALL := $(BIN)/uv pip install -q --python $(BIN)/python
RUNTIME_STAMP := $(VENV)/.installed-runtime-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
DEV_STAMP := $(VENV)/.installed-dev-$(shell cat requirements.lock requirements-dev.lock pyproject.toml | sha256sum | cut -c1-12)
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test
HOST_PORT = $${GOVSVC_HOST:-127.0.0.1}:$${GOVSVC_PORT:-8000}

.PHONY: setup setup-runtime serve test test-fast test-sqlite test-postgres lint schema lock clean \
	browser graphiql-assets pdf-libs monitoring

# Runtime: the venv, uv, the runtime pins and govsvc itself (editable). uv compiles what it
# installs to bytecode, as pip does: left to the first import, every start would compile spaCy,
# SQLAlchemy & co. again wherever PYTHONDONTWRITEBYTECODE is set (7-10 s more per process here).
$(RUNTIME_STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || { echo "creating virtualenv $(VENV) ($$($(PY) --version))"; \
		$(PY) -m venv --without-pip $(VENV); }
	@$(BIN)/uv --version 2>/dev/null | grep -q '^uv $(UV_VERSION)\b' || { \
		echo "installing the installer, uv $(UV_VERSION)"; \
		$(PY) -m pip --python $(BIN)/python install -q uv==$(UV_VERSION); }
	@echo "installing $$(grep -c '==' requirements.lock) runtime packages from requirements.lock (and compiling them)"
	@$(UV_INSTALL) --compile-bytecode -r requirements.lock
	@echo "installing govsvc (editable)"
	@$(UV_INSTALL) --no-deps --no-build-isolation -e .
	@rm -f $(VENV)/.installed-*
	@touch $@

# Development: the runtime above plus test, lint and type-checking tools (compiled the same way).
$(DEV_STAMP): $(RUNTIME_STAMP) requirements-dev.lock
	@echo "installing $$(grep -c '==' requirements-dev.lock) development packages" \
		"from requirements-dev.lock (and compiling them)"
	@$(UV_INSTALL) --compile-bytecode -r requirements-dev.lock
	@rm -f $(VENV)/.installed-dev-*
	@touch $@

setup-runtime: $(RUNTIME_STAMP)

setup: $(DEV_STAMP)

serve: setup-runtime pdf-libs
	@mkdir -p var
	@echo "migrating the database at $$(printf '%s' "$${GOVSVC_DATABASE_URL:-var/govsvc.db}" \
		| sed -E 's#(//[^/:@]*):[^/@]*@#\1:***@#')"
	@$(BIN)/govsvc migrate
	@echo "starting govsvc on http://$(HOST_PORT) (Ctrl-C stops it)"
	@$(BIN)/govsvc serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint browser monitoring pdf-libs test-sqlite test-postgres

# The status page is checked in a real headless browser: Debian's Chromium, driven by Playwright
# (which is told where it is, so it downloads no browser of its own).
browser:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the status-page browser test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }

# Alert ingestion is tested against the real monitoring stack, Debian's packages: Prometheus,
# its Alertmanager and the blackbox exporter (tests/alerts/monitoring.py starts its own processes
# on free ports). Without recommends: node-exporter would be one more daemon. Their postinst
# scripts would start system services: a policy-rc.d answering 101 (action forbidden) is put in
# place for the install when the machine has none, and removed after it.
MONITORING_BINS := prometheus prometheus-alertmanager prometheus-blackbox-exporter
MONITORING_PKGS := prometheus prometheus-alertmanager prometheus-blackbox-exporter
monitoring:
	@MISSING=; for BIN in $(MONITORING_BINS); do command -v $$BIN >/dev/null || MISSING=1; done; \
	if [ -n "$$MISSING" ]; then \
		echo "installing Debian's prometheus, alertmanager and blackbox exporter for the alert tests"; \
		RC=/usr/sbin/policy-rc.d; OWN=; \
		if [ ! -e $$RC ]; then printf '#!/bin/sh\nexit 101\n' > $$RC && chmod 755 $$RC && OWN=1; fi; \
		INSTALL="apt-get install -y -q --no-install-recommends $(MONITORING_PKGS)"; \
		DEBIAN_FRONTEND=noninteractive $$INSTALL >/dev/null 2>&1 || { \
			apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $$INSTALL >/dev/null; }; \
		STATUS=$$?; if [ -n "$$OWN" ]; then rm -f $$RC; fi; exit $$STATUS; \
	fi

# Audit pack reports are printed to PDF by WeasyPrint, which needs Debian's Pango (and a font).
pdf-libs:
	@if ldconfig -p | grep -q 'libpangoft2-1.0.so.0' && ldconfig -p | grep -q 'libharfbuzz-subset.so.0' \
		&& fc-list | grep -qi dejavu; then \
		echo "Pango, HarfBuzz-Subset and DejaVu fonts for audit pack PDFs: present"; \
	else \
		echo "installing Pango, HarfBuzz-Subset and DejaVu fonts (apt-get) for audit pack PDFs"; \
		PKGS="libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 fonts-dejavu-core"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$PKGS >/dev/null 2>&1 || { \
			apt-get update -q >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$PKGS >/dev/null; }; \
	fi

# Tests run in parallel, one pytest-xdist worker per core (WORKERS=0 runs them in one process;
# one test is `pytest tests/path.py::test_name`).
WORKERS ?= auto
PYTEST := $(BIN)/pytest -q -n $(WORKERS) --dist worksteal

test-sqlite: setup
	GOVSVC_TEST_DATABASE_URL=sqlite $(PYTEST)

test-postgres: setup
	GOVSVC_TEST_DATABASE_URL=$(PG_TEST_URL) $(PYTEST)

# The quick answer while working: SQLite only, without the tests marked slow (browser, PDF
# packs, worker loops, waits) or cli (the console script as a subprocess). `make test` runs all.
test-fast: setup pdf-libs
	GOVSVC_TEST_DATABASE_URL=sqlite $(PYTEST) -m "not slow and not cli"

# A new migration: `make migration NAME=short_description` autogenerates the next numbered
# revision (migrations/versions/NNNN_short_description.py) from the models' differences with a
# scratch SQLite database at head (no server needed), and prints it for review.
.PHONY: migration
migration: setup
	@test -n "$(NAME)" || { echo "usage: make migration NAME=short_description" >&2; exit 2; }
	$(BIN)/python -m govsvc.migrate "$(NAME)"

schema: setup
	$(BIN)/govsvc schema export

# Re-resolve the pins: a fresh environment from pyproject's ranges with the dev extras, frozen;
# then the runtime pins are what `pip install .` alone resolves to at those same versions
# (requirements.lock), and the dev lock is those plus the rest (requirements-dev.lock).
LOCK_TMP := /tmp/govsvc-lock
lock:
	rm -rf $(LOCK_TMP) && mkdir -p $(LOCK_TMP) && $(PY) -m venv $(LOCK_TMP)/dev
	$(LOCK_TMP)/dev/bin/pip install -q --upgrade pip
	$(LOCK_TMP)/dev/bin/pip install -q 'setuptools>=77' wheel -e '.[dev]'
	$(LOCK_TMP)/dev/bin/pip freeze --all --exclude-editable | grep -vE "^(-e|#|pip==)" > $(LOCK_TMP)/all.txt
	$(PY) -m venv $(LOCK_TMP)/runtime
	$(LOCK_TMP)/runtime/bin/pip install -q --upgrade pip
	$(LOCK_TMP)/runtime/bin/pip install -q -c $(LOCK_TMP)/all.txt 'setuptools>=77' . && rm -rf build
	$(LOCK_TMP)/runtime/bin/pip check
	$(LOCK_TMP)/runtime/bin/pip freeze --all | grep -vE "^(govsvc|#|pip==)" > requirements.lock
	$(PY) -c 'import re, sys; name = lambda l: re.sub(r"[-_.]+", "-", l.split("==")[0]).lower(); \
		runtime = {name(l) for l in open("requirements.lock")}; print("-r requirements.lock"); \
		sys.stdout.writelines(l for l in open(sys.argv[1]) if name(l) not in runtime)' \
		$(LOCK_TMP)/all.txt > requirements-dev.lock

# GraphiQL's assets are vendored in govsvc/graphql/static/graphiql (committed, with their
# licences) so the IDE works offline and loads nothing from a CDN. This re-fetches the pinned
# npm builds through npm and checks them against SHA384SUMS (the hashes unpkg publishes too).
GRAPHIQL_DIR := govsvc/graphql/static/graphiql
GRAPHIQL_TMP := /tmp/govsvc-graphiql
graphiql-assets:
	rm -rf $(GRAPHIQL_TMP) && mkdir -p $(GRAPHIQL_TMP)
	cd $(GRAPHIQL_TMP) && npm pack --silent graphiql@3.8.3 react@18.2.0 react-dom@18.2.0 >/dev/null
	cd $(GRAPHIQL_TMP) && for p in graphiql-3.8.3 react-18.2.0 react-dom-18.2.0; do \
		mkdir $$p && tar xzf $$p.tgz -C $$p; done
	cp $(GRAPHIQL_TMP)/react-18.2.0/package/umd/react.production.min.js \
		$(GRAPHIQL_TMP)/react-dom-18.2.0/package/umd/react-dom.production.min.js \
		$(GRAPHIQL_TMP)/graphiql-3.8.3/package/graphiql.min.js \
		$(GRAPHIQL_TMP)/graphiql-3.8.3/package/graphiql.min.css $(GRAPHIQL_DIR)/
	cp $(GRAPHIQL_TMP)/react-18.2.0/package/LICENSE $(GRAPHIQL_DIR)/LICENSE.react
	cp $(GRAPHIQL_TMP)/react-dom-18.2.0/package/LICENSE $(GRAPHIQL_DIR)/LICENSE.react-dom
	cp $(GRAPHIQL_TMP)/graphiql-3.8.3/package/LICENSE $(GRAPHIQL_DIR)/LICENSE.graphiql
	cd $(GRAPHIQL_DIR) && sha384sum -c SHA384SUMS

clean:
	rm -rf $(VENV) var
