# The two commands of the README: `make run` (the bot; local sandbox when BOT_TOKEN is unset) and
# `make test` (the whole suite). Both create or refresh .venv from pyproject.toml first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test-moved-clock run test lint bench clean venv lock audit

venv: $(STAMP)

LOCK := $(wildcard requirements.lock)

$(STAMP): pyproject.toml $(LOCK)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	# Exactly the locked versions, each checked against its hash; then the project without resolving.
	# (Until `make lock` has written requirements.lock, pyproject's ranges are resolved as before.)
	if [ -n "$(LOCK)" ]; then \
	  $(PY) -m pip install --quiet --require-hashes -r requirements.lock \
	  && $(PY) -m pip install --quiet --no-deps -e . ; \
	else $(PY) -m pip install --quiet -e '.[dev]'; fi
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

# Refresh requirements.lock from pyproject.toml (after changing a dependency); commit both.
lock:
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip-tools
	$(PY) -m piptools compile --quiet --generate-hashes --allow-unsafe --extra dev --strip-extras \
	    -o requirements.lock pyproject.toml

# Known vulnerabilities of the locked versions (needs the PyPI / OSV vulnerability service; a run that
# cannot reach it fails instead of reporting a clean result).
audit:
	$(PY) -m pip install --quiet pip-audit
	$(PY) -m pip_audit --strict --require-hashes --disable-pip -r requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
