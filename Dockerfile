# PackFinderz image: one image, two Heroku process types (web: bin/api, worker: bin/worker).
# Build: docker build --build-arg GIT_REV=$(git rev-parse --short=12 HEAD) -t packfinderz .
ARG PYTHON_VERSION=3.12

# --- build: resolve the locked runtime dependencies (plus the gcp extra) into /app/.venv ----------
FROM python:${PYTHON_VERSION}-slim AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first, so this layer is rebuilt only when the lock file changes.
COPY pyproject.toml uv.lock ./
RUN uv sync --frozen --no-dev --extra gcp --no-install-project
COPY README.md ./
COPY src/ src/
RUN uv sync --frozen --no-dev --extra gcp

# --- runtime: the interpreter, the venv and what the processes read at run time -----------------
FROM python:${PYTHON_VERSION}-slim AS runtime
ARG GIT_REV=""
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORT=8080 \
    GIT_REV=${GIT_REV}
WORKDIR /app
# Non-root; besides /tmp (multi-process metrics) only the local-storage folder is writable.
RUN useradd --uid 10001 --user-group --no-create-home --shell /usr/sbin/nologin packfinderz \
    && mkdir -p /app/var \
    && chown 10001:10001 /app/var
COPY --from=build /app/.venv /app/.venv
COPY src/ src/
COPY migrations/ migrations/
COPY alembic.ini ./
COPY bin/ bin/
USER 10001:10001
EXPOSE 8080
# bin/api execs `packfinderz api`, which binds $PORT (Heroku sets it; 8080 otherwise).
CMD ["bin/api"]
