# Two promises: `make run` and `make test` work on a fresh machine with Python 3.11 and a package index.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: setup run test lint format dev lock clean

setup: $(INSTALLED)

# Re-installs only when the pinned requirements or the project metadata change.
$(INSTALLED): requirements.lock pyproject.toml simulator/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e . -e ./simulator
	$(BIN)/revops-dbt parse --quiet
	touch $(INSTALLED)

run: setup
	$(BIN)/revops run

# Two workers, each test module on one (so its module fixtures are built once): the suite is mostly
# CPU-bound single-process work (dbt, simulated providers, chDB). `--dist loadgroup` would keep the
# shared simulated warehouse on one worker too, but pytest-xdist 3.8 cannot set its groups under
# pytest 9 (it writes Item._nodeid, which pytest 9 no longer reads).
test: setup lint
	$(BIN)/pytest -n 2 --dist loadfile --durations=15

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# The Dagster UI on the same instance config `revops run` uses.
dev: setup
	mkdir -p .revops/dagster && cp dagster.yaml .revops/dagster/dagster.yaml
	DAGSTER_HOME=$(CURDIR)/.revops/dagster $(BIN)/dagster dev -w workspace.yaml

# Re-resolve the pinned versions after changing dependencies in pyproject.toml.
lock: setup
	$(BIN)/uv pip compile pyproject.toml simulator/pyproject.toml --extra dev --extra deploy --python-version 3.11 --quiet -o requirements.lock

clean:
	rm -rf .revops dbt_project/target dbt_project/logs
