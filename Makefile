# Two promises: `make run` and `make test` work on a fresh machine with Python 3.11 and a package index.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# `make run` and `make dev`: the demo's simulated providers unless a workspace registry is configured.
REVOPS_PROVIDERS ?= $(if $(REVOPS_WORKSPACES_FILE),registry,simulated)
REVOPS_HOME ?= $(CURDIR)/.revops

.PHONY: setup run test lint format dev lock clean

setup: $(INSTALLED)

# Re-installs only when the pinned requirements or the project metadata change. The development
# environment is the product (src/revops), the simulator plug-in (simulator/) and the dev tools;
# a production image installs requirements.lock and the product only (Dockerfile).
$(INSTALLED): requirements-dev.lock pyproject.toml simulator/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements-dev.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . -e ./simulator
	$(BIN)/revops-dbt parse --quiet
	touch $(INSTALLED)

run: setup
	REVOPS_PROVIDERS=$(REVOPS_PROVIDERS) $(BIN)/revops run

# Two workers, each test module on one (so its module fixtures are built once): the suite is mostly
# CPU-bound single-process work (dbt, simulated providers, chDB). Modules in collection order, which
# tests/conftest.py starts with the slow end-to-end ones (xdist would otherwise start the modules
# with the most tests first and the longest last); the shared simulated warehouse is built once.
# The parse first: Dagster's asset checks read dbt's manifest, and every dbt command of the tests
# starts from its partial parse (a checkout's models may have changed since `make setup`).
test: setup lint
	$(BIN)/revops-dbt parse --quiet
	$(BIN)/pytest -n 2 --dist loadfile --no-loadscope-reorder --durations=25

# Style, and the package dependency directions docs/architecture.md draws (import-linter, pyproject.toml).
lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The Dagster UI on the instance `revops run` uses ($REVOPS_HOME/dagster), with the same providers.
dev: setup
	mkdir -p $(REVOPS_HOME)/dagster && cp dagster.yaml $(REVOPS_HOME)/dagster/dagster.yaml
	REVOPS_PROVIDERS=$(REVOPS_PROVIDERS) REVOPS_HOME=$(REVOPS_HOME) DAGSTER_HOME=$(REVOPS_HOME)/dagster \
		$(BIN)/dagster dev -w workspace.yaml

# Re-resolve the pinned versions after changing dependencies in a pyproject.toml (keeping the other pins):
# the production lock (product + deploy extra) and the development lock (+ simulator + dev tools).
lock: setup
	$(BIN)/uv pip compile pyproject.toml --extra deploy --python-version 3.11 --quiet -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml simulator/pyproject.toml --extra dev --extra deploy \
		--python-version 3.11 --quiet -o requirements-dev.lock

clean:
	rm -rf .revops dbt_project/target dbt_project/logs
