# Pterodisbot — the two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: demo test lint browser docker-check format run check-config doctor bench clean

# (Re)create the virtualenv whenever a requirements file or pyproject.toml changes.
$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

demo: $(STAMP)
	$(PY) -m pterodisbot demo

test: lint browser
	$(PY) -m pytest
	$(MAKE) docker-check

# The Dockerfile's install steps in a fresh venv (no Docker engine needed); about a minute.
docker-check:
	scripts/docker-install-check.sh

# Debian's chromium and the Playwright driver for tests/browser; never fails: without apt-get
# the browser test is skipped and says why.
browser: $(STAMP)
	@bash scripts/install-browser.sh $(PY)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

run: $(STAMP)
	$(PY) -m pterodisbot run

check-config: $(STAMP)
	$(PY) -m pterodisbot check-config

doctor: $(STAMP)
	$(PY) -m pterodisbot doctor

bench: $(STAMP)
	$(PY) -m bench

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache artifacts
