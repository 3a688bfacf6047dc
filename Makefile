# The two commands of the README: `make run` (the bot; local sandbox when BOT_TOKEN is unset) and
# `make test` (the whole suite). Both create or refresh .venv from pyproject.toml first.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	# see pyproject.toml: keep OpenCV headless
	$(PY) -m pip install --quiet --no-deps 'rapidocr-onnxruntime==1.4.4'
	touch $(STAMP)

run: $(STAMP)
	$(PY) -m bot --sandbox

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

lint: $(STAMP)
	$(PY) -m ruff check bot tests bench tools
	$(PY) -m mypy bot

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
