# Urbis: `make demo` runs the demo city, `make test` runs every check.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test lint typecheck bench lock clean

ASSETS := src/urbis/web/assets

$(STAMP): pyproject.toml requirements.lock $(ASSETS)/package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@# The web pages' libraries (htmx, Chart.js, Leaflet), exactly as locked; Urbis serves them itself.
	@command -v npm >/dev/null || { echo "npm (Node.js) is needed to install the web assets" >&2; exit 1; }
	npm ci --prefix $(ASSETS) --no-audit --no-fund --loglevel=error
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install Urbis with its development tools (idempotent)

demo: install ## Run Urbis on SQLite under ./var with the demo city
	$(BIN)/urbis demo

lint: install ## ruff (lint + format check) and the import layers
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests
	$(BIN)/lint-imports

typecheck: install ## mypy on src/
	$(BIN)/mypy

test: install lint typecheck ## Every check and the whole test suite
	$(BIN)/pytest -n 2 --dist loadfile

bench: install ## Benchmarks (figures go in the README)
	$(BIN)/urbis bench broker
	$(BIN)/urbis bench ingest
	$(BIN)/urbis bench solutions
	$(BIN)/urbis bench dashboard
	$(BIN)/urbis bench citizens

lock: ## Re-resolve requirements.lock from pyproject.toml
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock --python-version 3.11

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache $(ASSETS)/node_modules
