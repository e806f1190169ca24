# Pterodisbot — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

# Options handed to the CLI: `make demo PORT=9000 SERVERS=20`, `make doctor CONFIG=... ENV_FILE=...`.
# Empty here so only the command line sets them: a PORT exported for something else is ignored.
PORT     :=
SERVERS  :=
CONFIG   :=
ENV_FILE :=
DEMO_ARGS = $(if $(PORT),--port '$(PORT)') $(if $(SERVERS),--servers '$(SERVERS)')
FILE_ARGS = $(if $(CONFIG),--config '$(CONFIG)') $(if $(ENV_FILE),--env-file '$(ENV_FILE)')

.PHONY: demo test lint lock lock-check config-ini browser postgres docker-check format run check-config doctor bench venv clean

# (Re)create the virtualenv whenever a requirements file or pyproject.toml changes.
# requirements-dev.txt pins everything: the runtime (as requirements.txt does) and the tools.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

# Only the virtualenv, for running `.venv/bin/python -m pterodisbot ...` by hand.
venv: $(STAMP)

demo: $(STAMP)
	$(PY) -m pterodisbot demo $(DEMO_ARGS)

# The suite mostly waits on sockets and simulated clocks, so worker processes (pytest-xdist) pay
# even on two cores; `loadgroup` keeps the tests sharing one demo (xdist_group) in one worker.
# `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS := 4

test: lint lock-check browser postgres
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadgroup
	$(MAKE) docker-check

# The Dockerfile's install steps in a fresh venv (no Docker engine needed); about a minute.
docker-check:
	scripts/docker-install-check.sh

# Debian's chromium and the Playwright driver for tests/browser; without apt-get the browser
# test is skipped and says why, but under CI=true what cannot be installed fails the build.
browser: $(STAMP)
	@bash scripts/install-browser.sh $(PY)

# Debian's PostgreSQL server for the history store's tests (each run starts throwaway clusters of
# its own on free ports, as the `postgres` user when run as root); the same rules as the browser.
postgres:
	@bash scripts/install-postgres.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# requirements*.txt are written by `make lock` from pyproject.toml, never by hand; `make test`
# fails when they no longer match it.
lock: $(STAMP)
	bash scripts/lock.sh

lock-check: $(STAMP)
	@bash scripts/lock.sh --check

# config.ini is the documented example, written from the settings table
# (pterodisbot/config/_table.py); a test fails when the committed file differs from it.
config-ini: $(STAMP)
	$(PY) -m pterodisbot.config > config.ini.tmp && mv config.ini.tmp config.ini

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

run: $(STAMP)
	$(PY) -m pterodisbot run $(FILE_ARGS)

check-config: $(STAMP)
	$(PY) -m pterodisbot check-config $(FILE_ARGS)

doctor: $(STAMP)
	$(PY) -m pterodisbot doctor $(FILE_ARGS)

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache .import_linter_cache artifacts
