# Two commands do all set-up: `make demo` opens the console on the demo tenant,
# `make test` runs the whole test suite. Both create .venv on first use.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

POUCHDB_DIR := tests/sync/pouchdb
POUCHDB_STAMP := $(POUCHDB_DIR)/node_modules/.installed

.PHONY: demo test install lint clean-demo test-servers

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "air-tui needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/air-tui console

# pouchdb-server, the CouchDB-compatible server the team sync tests start on 127.0.0.1. Without
# npm the sync tests skip, except under CI=true, where they fail.
$(POUCHDB_STAMP): $(POUCHDB_DIR)/package-lock.json
	npm ci --prefix $(POUCHDB_DIR) --no-audit --no-fund --loglevel=error
	touch $(POUCHDB_STAMP)

test-servers:
	@if command -v npm >/dev/null 2>&1; then $(MAKE) --no-print-directory $(POUCHDB_STAMP); \
	else echo "npm not found: the team sync tests will be skipped (install Node.js and npm to run them)"; fi

test: $(STAMP) test-servers
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

clean-demo: $(STAMP)
	$(BIN)/air-tui investigate --reset-demo
