# One image for every revops service in docker-compose.yml: the Dagster code location, webserver and
# daemon, and the REST API. Build: docker compose build
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    REVOPS_HOME=/var/lib/revops \
    DAGSTER_HOME=/opt/dagster/home

WORKDIR /opt/revops

# Dependencies first (cached until the lock changes): the production lock, the product and its `deploy`
# extra (dagster-postgres, the Dagster instance's Postgres storage) — not the simulator or dev tools.
COPY requirements.lock ./
RUN pip install --no-cache-dir -r requirements.lock

COPY . .
RUN pip install --no-cache-dir --no-deps -e . \
    && revops-dbt parse --quiet \
    && mkdir -p "$DAGSTER_HOME" "$REVOPS_HOME" \
    && cp deploy/dagster/dagster.yaml deploy/dagster/workspace.yaml "$DAGSTER_HOME"/ \
    && useradd --system --uid 10001 --home-dir "$REVOPS_HOME" revops \
    && chown -R revops "$REVOPS_HOME" "$DAGSTER_HOME" /opt/revops/dbt_project

USER revops
EXPOSE 4000 3000 8000

# The API by default; the Dagster services override the command (docker-compose.yml).
CMD ["uvicorn", "--factory", "revops.api.main:create_app", "--host", "0.0.0.0", "--port", "8000", "--workers", "2", "--no-access-log"]
