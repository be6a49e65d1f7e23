# OpenMessenger: `make run` starts the server, `make test` runs the test suite.

PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin
CONFIG ?= etc/openmessenger.conf

.PHONY: run test test-unit test-wokkel test-clients bench clean

$(BIN)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --config-settings editable_mode=compat -e '.[test]'
	$(BIN)/python -c "from twisted.plugin import IPlugin, getPlugins; list(getPlugins(IPlugin))"
	touch $@

run: $(BIN)/.installed
	$(BIN)/twistd --nodaemon --pidfile= openmessenger --config $(CONFIG)

test: test-unit test-wokkel

test-unit: $(BIN)/.installed
	$(BIN)/python -m pytest -m "not slow and not clients"

# wokkel's own trial suite, with our compatibility module loaded first.
test-wokkel: $(BIN)/.installed
	$(BIN)/python tests/wokkelsuite.py

# Real desktop clients (Psi, Profanity) against the real daemon.
test-clients: $(BIN)/.installed
	$(BIN)/python -m pytest -m clients tests/clients tests/browser

bench: $(BIN)/.installed
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
