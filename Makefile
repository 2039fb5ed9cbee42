# Two commands: `make serve` and `make test`. Both set up everything they need from nothing.
PY ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | sha256sum | cut -c1-12)
PG_TEST_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/test

.PHONY: setup serve test test-fast test-sqlite test-postgres lint schema lock clean browser graphiql-assets pdf-libs

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-*
	touch $@

setup: $(STAMP)

serve: setup pdf-libs
	mkdir -p var
	$(BIN)/govsvc migrate
	$(BIN)/govsvc serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint browser pdf-libs test-sqlite test-postgres

# The status page is checked in a real headless browser: Debian's Chromium, driven by Playwright
# (which is told where it is, so it downloads no browser of its own).
browser:
	@command -v chromium >/dev/null || { \
		echo "installing Debian's chromium for the status-page browser test"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }

# Audit pack reports are printed to PDF by WeasyPrint, which needs Debian's Pango (and a font).
pdf-libs:
	@ldconfig -p | grep -q 'libpangoft2-1.0.so.0' && fc-list | grep -qi dejavu || { \
		echo "installing Pango and DejaVu fonts for the audit pack PDF"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q libpango-1.0-0 libpangoft2-1.0-0 \
			fonts-dejavu-core >/dev/null; }

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

schema: setup
	$(BIN)/govsvc schema export

# Re-resolve the pins: a fresh environment from pyproject's ranges, frozen.
lock:
	rm -rf /tmp/govsvc-lock && $(PY) -m venv /tmp/govsvc-lock
	/tmp/govsvc-lock/bin/pip install -q --upgrade pip
	/tmp/govsvc-lock/bin/pip install -q 'setuptools>=77' wheel -e '.[dev]'
	/tmp/govsvc-lock/bin/pip freeze --all --exclude-editable | grep -vE "^(-e|#|pip==)" > requirements.lock

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
