# The two commands of the README: `make run` (the bot; local sandbox when BOT_TOKEN is unset) and
# `make test` (the whole suite). Both create or refresh .venv from requirements.lock first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test-moved-clock run test lint bench clean venv lock audit

venv: $(STAMP)

# Exactly the locked versions, each checked against its hash, then the project without resolving, so
# every machine runs what the suite ran on; `pip check` catches a lock that pyproject.toml has outgrown
# (a dependency added without `make lock`).
$(STAMP): pyproject.toml requirements.lock
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m pip check
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m bot --sandbox

# Two workers (pytest-xdist), each test file kept on one worker so its module fixtures load once: most
# of the suite waits on subprocesses, servers and sockets, so on 2 cores this took the suite from
# ~1,450 s to ~610 s. `make test TEST_WORKERS=0` runs it in one process.
TEST_WORKERS ?= 2
XDIST = $(if $(filter 0,$(TEST_WORKERS)),-p no:xdist,-n $(TEST_WORKERS) --dist loadfile)

test: $(STAMP)
	$(PY) -m pytest -q $(XDIST) $(PYTEST_ARGS)

# The date-sensitive suites once more under a moved clock (Debian's faketime): the unit tests without the
# engines' image work (pure functions handed their date) and the dialogs on SQLite (the PostgreSQL
# variants run the same dialog code; their server keeps the real clock, see tests/helpers/servers.py).
MOVED_CLOCK ?= +400d
test-moved-clock: $(STAMP)
	faketime -f '$(MOVED_CLOCK)' $(PY) -m pytest -q -p no:cacheprovider $(XDIST) tests/unit tests/dialogs \
		--ignore=tests/unit/verification --ignore=tests/unit/fuzz -k 'not postgresql' $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check bot tests bench tools
	$(PY) -m mypy bot

# Refresh requirements.lock from pyproject.toml (after changing a dependency); commit both. pip-compile
# keeps every version already in the lock that still fits (the versions the suite ran on) and resolves
# only what changed; `make lock LOCK_ARGS=--upgrade` moves everything to the newest. Its own venv, so
# pip-tools never lands in the one the tests run in; index and find-links lines of the local pip
# configuration are not written into the lock (a fresh machine has only PyPI).
TOOLS_VENV ?= .venv-tools
TOOLS_PY := $(TOOLS_VENV)/bin/python
LOCK_ARGS ?=
$(TOOLS_VENV)/.installed:
	test -x $(TOOLS_PY) || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_PY) -m pip install --quiet --upgrade pip pip-tools pip-audit
	touch $@

# requirements-runtime.lock (the Docker image: no test tools) is the same versions without the dev extra.
LOCK_FLAGS := --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
lock: $(TOOLS_VENV)/.installed
	$(TOOLS_PY) -m piptools compile $(LOCK_FLAGS) --extra dev $(LOCK_ARGS) -o requirements.lock pyproject.toml
	$(TOOLS_PY) -m piptools compile $(LOCK_FLAGS) -c requirements.lock -o requirements-runtime.lock pyproject.toml

# Known vulnerabilities of the locked versions (PyPI's vulnerability data; AUDIT_SERVICE=osv for OSV).
# tools/audit_lock.py fails with "NOT AUDITED" (exit 3) where the service cannot be reached or does not
# answer for a package, instead of pip-audit's "No known vulnerabilities found".
AUDIT_SERVICE ?= pypi
audit: $(TOOLS_VENV)/.installed
	$(TOOLS_PY) tools/audit_lock.py --service $(AUDIT_SERVICE) --lock requirements.lock

clean:
	rm -rf $(VENV) $(TOOLS_VENV) .pytest_cache .mypy_cache .ruff_cache
