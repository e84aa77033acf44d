# One Dockerfile, one image per service: `--build-arg SERVICE=gateway` installs only the
# gateway member and marketpulse-common, with the versions pinned in uv.lock (plus the
# dashboard's static files when they were built on the host: see below).
#
# Build arguments for machines without registry access (the defaults are for everyone else):
#   PYTHON_IMAGE  the base of both stages: any Debian-like image with python3 (+ venv) 3.11+
#   WHEELHOUSE=1  install from .wheelhouse/ (deploy/build_wheelhouse.sh) instead of PyPI
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ARG SERVICE
ARG WHEELHOUSE=""
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<ingestor|compute|sentiment|gateway>" && false)
WORKDIR /app
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
# A workspace member: uv checks the whole workspace against the lock.
COPY clients/python ./clients/python
# The wheelhouse when the context has one (uv.lock is named so the COPY always has a source).
COPY uv.lock .wheelhous[e] /wheelhouse/
RUN if [ -n "$WHEELHOUSE" ]; then \
      python3 -m venv /app/.venv \
      && /app/.venv/bin/pip install --no-cache-dir --no-index --find-links /wheelhouse \
           -r "/wheelhouse/requirements-${SERVICE}.txt" \
      && /app/.venv/bin/pip install --no-cache-dir --no-index --no-deps \
           /wheelhouse/marketpulse_common-*.whl "/wheelhouse/marketpulse_${SERVICE}-"*.whl \
      && /app/.venv/bin/python -m compileall -q /app/.venv/lib; \
    else \
      python3 -m venv /opt/uv && /opt/uv/bin/pip install --no-cache-dir "uv==0.13.9" \
      && UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv \
         /opt/uv/bin/uv sync --locked --no-dev --no-editable --package "marketpulse-${SERVICE}"; \
    fi

FROM ${PYTHON_IMAGE}
ARG SERVICE
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 MP_LOG_FORMAT=json SERVICE=${SERVICE}
RUN useradd --system --uid 10001 marketpulse
COPY --from=build /app/.venv /app/.venv
# The dashboard as built on the host (dashboard/dist: `make install`, which `make up` runs
# first), when the context has it: the gateway serves it at `/`; without it `/` redirects to
# the API docs. Plain files, so no Node stage and no registry are needed (uv.lock is named so
# the COPY always has a source; it is removed again).
COPY uv.lock dashboard/dis[t] /app/dashboard/
RUN rm /app/dashboard/uv.lock
# For `docker run`; compose.yaml sets the same path for its gateway.
ENV MP_DASHBOARD_DIR=/app/dashboard
USER marketpulse
# Healthy while this instance's beacon is in Redis (see marketpulse_common.health).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s \
  CMD python -m marketpulse_common.health "$SERVICE" || exit 1
CMD ["sh", "-c", "exec python -m marketpulse_${SERVICE}"]
