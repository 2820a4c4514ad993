# One image for every service of the Revizto Data Exporter; docker-compose.yml chooses
# each service's command (python -m token_service | python -m api |
# celery -A worker.celery_app worker | python -m sandbox | python -m demo).
#
# Stages:
#   base     python slim, the non-root user (uid/gid 10001) and the environment all share
#   builder  a virtualenv at /opt/venv from the hash-pinned requirements.lock; pip works here
#   test     builder + requirements-test.lock + make, redis-server and promtool; `make test`
#   runtime  the default target: base + the virtualenv, no compilers, no source tree
#
# Needs BuildKit (Docker >= 23 and Compose v2 use it; Docker 20.10: DOCKER_BUILDKIT=1): it
# builds only the stages the target needs, and mounts the optional pip.conf secret below.
#
#   docker build -t revizto-data-exporter .                 # runtime
#   docker build --target test -t revizto-data-exporter:test . && docker run --rm revizto-data-exporter:test
#
# PYTHON_IMAGE: any Debian bookworm image with python 3.11 (`python` on PATH, venv
# working); docker/offline-images.sh builds one from Debian packages where Docker Hub is
# out of reach. Build-machine settings for pip (an index mirror, its CA file), if it needs
# any: --secret id=pip.conf,src=FILE (mounted at /etc/pip.conf while pip runs, never kept).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# A fixed uid/gid, so a host directory can be handed to the container
# (`sudo chown -R 10001:10001 config`, see .env.example); USER below uses the numbers.
RUN groupadd --system --gid 10001 exporter \
    && useradd --system --uid 10001 --gid exporter --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin exporter

WORKDIR /app


FROM base AS builder

# No compiler even here: every dependency ships wheels for amd64 and arm64. Should one
# ever need compiling, install build-essential in this stage, never in runtime.
RUN python -m venv "${VIRTUAL_ENV}"

# Dependencies first, in a layer of their own: they change far less often than the code.
# Exactly the versions and files of requirements.lock (`make lock` writes it from
# pyproject.toml, with setuptools for the build below): the same image on every build.
COPY requirements.lock /src/
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf \
    pip install --no-cache-dir --require-hashes -r /src/requirements.lock

# Then the project itself (pyproject.toml's package list decides what goes in; the build
# context is filtered by .dockerignore, so no secrets, caches or exports reach this stage),
# built with the locked setuptools rather than whatever the index has today.
COPY . /src
RUN pip install --no-cache-dir --no-deps --no-build-isolation /src


FROM builder AS test

# Debian's versions are pinned by the base image's release (bookworm); pinning each patch
# version would break the build at every Debian point release.
# make runs the suite; redis-server, promtool (in `prometheus`), Alertmanager and amtool
# (in `prometheus-alertmanager`) are what the tests start.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends make redis-server prometheus \
        prometheus-alertmanager \
    && rm -rf /var/lib/apt/lists/*

# The Makefile keeps its virtualenv in $VENV and reinstalls when $VENV/.installed is older
# than pyproject.toml (touched below, after the copy). CI=true: every tool the tests need is
# installed, so none of them may skip for want of one.
ENV VENV=/opt/venv \
    CI=true

# The test extra, pinned like the rest (requirements-test.lock holds requirements.lock too).
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf \
    pip install --no-cache-dir --require-hashes -r /src/requirements-test.lock

# /app itself too: ruff, mypy and pytest keep their caches there.
COPY --chown=10001:10001 . /app
RUN chown 10001:10001 /app \
    && touch /opt/venv/.installed

USER 10001:10001
CMD ["make", "test"]


FROM base AS runtime

COPY --from=builder /opt/venv /opt/venv

# Mount points: /app/config holds appsettings.json (token service only; a directory, so the
# service's atomic rename works), /app/exports the export files (api and workers). Named
# volumes mounted here start out owned by the non-root user.
RUN mkdir -p /app/config /app/exports \
    && chown 10001:10001 /app/config /app/exports

# Listening inside a container must not mean loopback; compose sets the same values.
# (TOKEN_SERVICE_BIND is an address, not a secret: DL3064 matches on the word TOKEN.)
# hadolint ignore=DL3064
ENV API_BIND=0.0.0.0:8080 \
    TOKEN_SERVICE_BIND=0.0.0.0:8081 \
    WORKER_METRICS_BIND=0.0.0.0:9808 \
    APPSETTINGS_PATH=/app/config/appsettings.json \
    EXPORT_DIR=/app/exports

USER 10001:10001

# api, token service, sandbox (demo only), worker metrics.
EXPOSE 8080 8081 8090 9808

# Matches the default command; compose gives every service its own check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-m", "service_common.healthcheck", "http://127.0.0.1:8080/healthz"]

# No ENTRYPOINT: a service's `command` replaces this default completely and runs as PID 1.
CMD ["python", "-m", "api"]
