# One Dockerfile, one image per service: `--build-arg SERVICE=gateway` installs only the
# gateway member and marketpulse-common, with the versions pinned in uv.lock.
FROM python:3.11-slim AS build
ARG SERVICE
RUN test -n "$SERVICE" || (echo "build with --build-arg SERVICE=<ingestor|compute|sentiment|gateway>" && false)
RUN pip install --no-cache-dir "uv==0.13.9"
WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PROJECT_ENVIRONMENT=/app/.venv
COPY pyproject.toml uv.lock ./
COPY libs ./libs
COPY services ./services
RUN uv sync --locked --no-dev --no-editable --package "marketpulse-${SERVICE}"

FROM python:3.11-slim
ARG SERVICE
ENV PATH=/app/.venv/bin:$PATH PYTHONUNBUFFERED=1 MP_LOG_FORMAT=json SERVICE=${SERVICE}
RUN useradd --system --uid 10001 marketpulse
COPY --from=build /app/.venv /app/.venv
USER marketpulse
# Healthy while this instance's beacon is in Redis (see marketpulse_common.health).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s \
  CMD python -m marketpulse_common.health "$SERVICE" || exit 1
CMD ["sh", "-c", "exec python -m marketpulse_${SERVICE}"]
