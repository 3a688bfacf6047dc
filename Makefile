# The two commands of the README: `make run` (the bot; local sandbox when BOT_TOKEN is unset) and
# `make test` (the whole suite). Both create or refresh .venv from pyproject.toml first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test-moved-clock run test lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m bot --sandbox

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# The date-sensitive suites once more under a moved clock (Debian's faketime): the unit tests without the
# engines' image work (pure functions handed their date) and the dialogs on SQLite (the PostgreSQL
# variants run the same dialog code; their server keeps the real clock, see tests/helpers/servers.py).
MOVED_CLOCK ?= +400d
test-moved-clock: $(STAMP)
	faketime -f '$(MOVED_CLOCK)' $(PY) -m pytest -q -p no:cacheprovider tests/unit tests/dialogs \
		--ignore=tests/unit/verification --ignore=tests/unit/fuzz -k 'not postgresql' $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check bot tests bench tools
	$(PY) -m mypy bot

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
