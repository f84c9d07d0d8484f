# One image for every process of a deployment (built and pushed by CI or by hand; see
# docs/deployment.md):
#   code location (default command)   dagster code-server on port 4000, gRPC
#   run workers                       started by the run launcher from this image
#   webserver / daemon                same image, command overridden (see docs/deployment.md)
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DAGSTER_HOME=/opt/dagster/home \
    LAKEHOUSE_ENV=aws

WORKDIR /opt/dagster/app

# Extras of the package to install: "[k8s]" for the Helm chart's run pods (dagster-k8s).
ARG EXTRAS=""

# Dependencies first, so code changes rebuild only the last layers.
COPY pyproject.toml setup.py README.md ./
RUN mkdir -p lakehouse_assets && touch lakehouse_assets/__init__.py \
    && pip install ".${EXTRAS}" \
    && pip uninstall -y lakehouse_assets

COPY lakehouse_assets ./lakehouse_assets
COPY workspace.yaml ./
RUN pip install --no-deps . \
    && mkdir -p "$DAGSTER_HOME" \
    && useradd --system --uid 10001 --home-dir /opt/dagster dagster \
    && chown -R dagster "$DAGSTER_HOME"

# The instance: PostgreSQL, queued runs, S3 compute logs, one ECS task per run. Configured by
# DAGSTER_PG_*, DAGSTER_COMPUTE_LOGS_BUCKET and AWS_REGION at run time.
COPY deploy/dagster.aws.yaml ${DAGSTER_HOME}/dagster.yaml

USER dagster
EXPOSE 4000
CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "4000", \
     "--module-name", "lakehouse_assets.definitions", "--location-name", "lakehouse_assets"]
