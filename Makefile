# The two commands a newcomer needs: `make run` and `make test`. Both set up .venv first: `make run`
# installs what running needs, `make test` adds the test tools (pytest, moto, selenium, ruff, dg).
VENV ?= .venv
PYTHON ?= python3
BIN = $(VENV)/bin

.PHONY: run test lint dev benchmark

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(BIN)/.dev-installed: $(BIN)/.installed
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@

# Materialize the whole asset graph on the embedded default (sample lake -> DuckDB file).
# `make run ARGS=--verbose` shows Dagster's own event log.
run: $(BIN)/.installed
	$(BIN)/python -m sparkify_assets $(ARGS)

# Lint, then every test. PostgreSQL tests skip unless a server answers (see README). Two test
# processes at a time (most tests wait on a database, a subprocess or a browser); then the tests
# marked `alone`, which restart the shared PostgreSQL server, with nothing else running.
test: $(BIN)/.dev-installed
	$(BIN)/ruff check sparkify_assets tests
	$(BIN)/ruff format --check sparkify_assets tests
	$(BIN)/python -m pytest -n 2 -m "not alone"
	$(BIN)/python -m pytest -m alone

# The Dagster UI on http://127.0.0.1:3000 with the asset graph, jobs, sensors and schedules.
dev: $(BIN)/.installed
	$(BIN)/dagster dev -w workspace.yaml
