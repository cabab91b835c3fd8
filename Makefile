# Lendgate: the two commands a fresh clone needs are `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck bench lock screenshots clean

$(STAMP): pyproject.toml sdk/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ./sdk
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/lendgate demo

test: $(STAMP)
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH)

# The image's pinned runtime dependencies, from what `make install` put in .venv.
lock: $(STAMP)
	$(BIN)/python deploy/lock.py > requirements.lock

# The main pages of the borrower's and the regulator's journeys, at 390x844 and 1280x800.
screenshots: $(STAMP)
	LENDGATE_PORTAL_SCREENSHOTS=var/screenshots/portal \
	LENDGATE_CONSOLE_SCREENSHOTS=var/screenshots/console \
	$(BIN)/pytest -q -p no:cacheprovider tests/web/portal/test_portal_browser.py \
		tests/web/console/test_console_browser.py
	@echo "screenshots in var/screenshots/"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
