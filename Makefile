# Two commands do all set-up: `make demo` opens the console on the demo tenant,
# `make test` runs the whole test suite. Both create .venv on first use.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install lint clean-demo

$(STAMP): pyproject.toml
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "air-tui needs Python 3.11 or newer; set PYTHON=/path/to/python3.11")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/air-tui console

test: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

clean-demo: $(STAMP)
	$(BIN)/air-tui investigate --reset-demo
