# Majlis — the two commands a newcomer needs are `make demo` and `make test`.
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
HOST   ?= 127.0.0.1
PORT   ?= 8000

.PHONY: setup demo test lint typecheck unit clean-db

## setup: create .venv and install Majlis with its test dependencies (quick when nothing changed)
setup: $(STAMP)

$(STAMP): pyproject.toml scripts/ensure-system-packages.sh
	@scripts/ensure-system-packages.sh
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

## demo: start the embedded database, migrate, load bilingual demo data, serve on http://$(HOST):$(PORT)
demo: setup
	@$(BIN)/majlis db up
	@$(BIN)/majlis db migrate
	@$(BIN)/majlis demo load
	@echo "Serving on http://$(HOST):$(PORT)  (API docs: http://$(HOST):$(PORT)/docs; Ctrl-C to stop)"
	@$(BIN)/majlis serve --host $(HOST) --port $(PORT)

## test: lint, type-check and run the whole suite against a real PostgreSQL cluster
test: setup lint typecheck unit

lint:
	@$(BIN)/ruff check src tests
	@$(BIN)/ruff format --check src tests

typecheck:
	@$(BIN)/mypy src

unit:
	@$(BIN)/pytest -q

## clean-db: stop the embedded database (the data under MAJLIS_HOME stays)
clean-db:
	@$(BIN)/majlis db down
