# syntax=docker/dockerfile:1
#
# baton-datadog: the connector as a long-running ConductorOne service (see docs/deployment.md).
#
# Base image, pinned by tag. The digest of this tag (the multi-arch index, as used by public Dockerfiles; it
# could not be checked from the build machines, which reach no container registry):
#   docker.io/library/python:3.11.13-slim-bookworm@sha256:86adf8dbadc3d6e82ee5dd2c74bec2e1c2467cdad47886280501df722372d2e1
# For a published build, pass the digest form: --build-arg PYTHON_IMAGE=docker.io/library/python:3.11.13-slim-bookworm@sha256:...
# `make image` builds a local stand-in for this base offline and tags it with this exact name.
ARG PYTHON_IMAGE=docker.io/library/python:3.11.13-slim-bookworm

# ---- builder: the app and its runtime dependencies in a venv (all wheels; no compiler needed) -------------
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python3 -m venv /opt/venv

WORKDIR /src
COPY pyproject.toml README.md requirements-image.txt ./
COPY connector ./connector

# Install the package (runtime dependencies only) at the versions the tests ran against (requirements-image.txt,
# `python scripts/deploy_image.py lock`), then drop the installers from the venv: the final stage never runs pip.
# Byte-code is compiled here because the final root filesystem is read-only.
RUN /opt/venv/bin/pip install --no-cache-dir --only-binary=:all: --no-binary=baton-datadog \
        --constraint requirements-image.txt . \
    && /opt/venv/bin/pip uninstall --yes pip setuptools wheel \
    && /opt/venv/bin/python -m compileall -q /opt/venv/lib \
    && /opt/venv/bin/baton-datadog --help > /dev/null

# ---- runtime ------------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

# The global ARG is in scope for FROM only: declared again, the base.name label below gets its value.
ARG PYTHON_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown

LABEL org.opencontainers.image.title="baton-datadog" \
      org.opencontainers.image.description="ConductorOne baton connector for Datadog (Python), run as a ConductorOne service" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"

# The same non-root identity as distroless `nonroot` (and ConductorOne's own image): UID/GID 65532.
RUN echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin' >> /etc/passwd \
    && echo 'nonroot:x:65532:' >> /etc/group

COPY --from=builder /opt/venv /opt/venv

# /tmp is the only path the daemon writes (working c1z files); mount an emptyDir/tmpfs there with a
# read-only root filesystem. The one-shot mode's default output file (sync.c1z) lands in the working dir.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    BATON_C1Z_TEMP_DIR=/tmp \
    BATON_HEALTH_CHECK=true \
    BATON_HEALTH_CHECK_BIND_ADDRESS=0.0.0.0 \
    BATON_HEALTH_CHECK_PORT=8081

WORKDIR /tmp
USER 65532:65532
# /healthz, /readyz (and the SDK's /health, /ready, /live) and /metrics, plain HTTP on all interfaces: the
# daemon's own default is 127.0.0.1 (as baton-sdk's), which probes and Prometheus could not reach.
EXPOSE 8081
ENTRYPOINT ["baton-datadog"]
