# syntax=docker/dockerfile:1
# The application image: the gateway (reasoning-api), and reused by docker-compose.yml for
# the web client and the demo MCP server. Two stages: the builder resolves nothing, it
# installs exactly uv.lock into /opt/venv, without any dependency group (dev, bench); the
# runtime stage carries only that virtual environment and the files the services run, as
# an unprivileged user.

# Both stages must share one interpreter: the venv's python links to /usr/local/bin/python3.
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS builder
# The uv version the Makefile installs, so the image resolves the lock the same way.
RUN pip install --no-cache-dir uv==0.13.9
ENV UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=/usr/local/bin/python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy
WORKDIR /src
# Dependencies first, in their own layer: it is rebuilt only when the lock changes.
COPY pyproject.toml uv.lock ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-install-project
# Then the gateway itself, installed as a package (not editable) so /opt/venv is self-contained.
COPY README.md ./
COPY api ./api
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-default-groups --no-editable

FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH="/opt/venv/bin:${PATH}"
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --home-dir /app --no-create-home --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=builder /opt/venv /opt/venv
# Read at run time relative to /app: MCP server lists, the demo MCP server, the web client.
COPY config ./config
COPY scripts/demo_mcp_server.py ./scripts/demo_mcp_server.py
COPY web_client ./web_client
# data/ holds the audit spill file (and SQLite when no DATABASE_URL is set); compose mounts
# a volume here, which inherits this ownership.
RUN mkdir -p /app/data && chown app:app /app/data
USER app
EXPOSE 8000
# The slim image has no curl; the standard library is enough for a liveness probe.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4)"]
# Idle client connections stay open 75 s (uvicorn's default is 5 s): longer than the SDKs'
# pools keep them (httpx 5 s, aiohttp 15 s), so a client never reuses one we are closing.
# On SIGTERM the gateway drains first (SHUTDOWN_DRAIN_SECONDS, README "Shutdown"); uvicorn's
# graceful timeout only bounds, after that, a connection a client keeps busy by not reading.
# Give the container a stop grace period of 45 s (compose's stop_grace_period; docker stop -t 45).
CMD ["uvicorn", "--factory", "api.main:create_app", "--host", "0.0.0.0", "--port", "8000", "--timeout-keep-alive", "75", "--timeout-graceful-shutdown", "5"]
