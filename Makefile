# SpecLab: `make run` starts the dashboard with a worker; `make test` runs every test.
# Both set everything up first (virtualenv in .venv, database, example spec, built-in model).

VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
WORKERS ?= 1
PYTEST_ARGS ?=

.PHONY: setup init run test lint bench clean

setup:
	@scripts/setup.sh

init: setup
	$(BIN)/speclab init

run: init
	$(BIN)/speclab serve --port $(PORT) --workers $(WORKERS)

test: init
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	SPECLAB_TEST_MODEL_HOME=$${SPECLAB_HOME:-$$HOME/.speclab} $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
