"""Processes as deployed: the real api under uvicorn, `packfinderz version`, the deploy files and shims."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import yaml  # type: ignore[import-untyped]

from packfinderz import __version__
from packfinderz.config import Settings
from packfinderz.kit import migrations
from tests.fixtures.processes import ROOT, Process, child_env, free_port, run

Spawn = Callable[..., Process]
PROCESSES = {"web": "bin/api", "worker": "bin/worker"}


PROD_SECRETS = {
    "PACKFINDERZ_JWT_SECRET": "j" * 40,
    "PACKFINDERZ_ADS_TOKEN_SECRET": "a" * 40,
    "PACKFINDERZ_STORAGE_SIGNING_SECRET": "s" * 40,
    "PACKFINDERZ_SQUARE_ACCESS_TOKEN": "square-token",
    "PACKFINDERZ_SQUARE_LOCATION_ID": "L1",
    "PACKFINDERZ_SQUARE_WEBHOOK_SIGNATURE_KEY": "square-key",
    "PACKFINDERZ_SQUARE_WEBHOOK_URL": "https://api.example/webhooks/square",
    "PACKFINDERZ_METRICS_TOKEN": "m" * 40,  # required in prod (issue #17)
}


SERVERS = {
    # uvicorn drains, shuts the lifespan down, then re-raises the signal it caught
    "test": ("Uvicorn running on http://127.0.0.1:{port}", -signal.SIGTERM),
    "prod": ("Listening at: http://127.0.0.1:{port}", 0),  # gunicorn + uvicorn workers
}


@pytest.mark.parametrize("env_name", list(SERVERS))
async def test_real_api_answers_ready(
    settings: Settings, spawn: Spawn, tmp_path: Path, env_name: str
) -> None:
    listening, exit_code = SERVERS[env_name]
    assert settings.db_dsn is not None
    assert settings.redis_url is not None
    port = free_port()
    dsn = settings.db_dsn.get_secret_value()
    env = child_env(
        PACKFINDERZ_APP_ENV=env_name,
        PACKFINDERZ_DB_DSN=dsn + ("&" if "?" in dsn else "?") + "sslmode=disable",
        PACKFINDERZ_REDIS_URL=settings.redis_url.get_secret_value(),
        PACKFINDERZ_STORAGE_LOCAL_DIR=str(tmp_path / "storage"),
        PACKFINDERZ_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        PORT=str(port),
        WEB_CONCURRENCY="1",
        **(PROD_SECRETS if env_name == "prod" else {}),
    )
    api = spawn(["--host", "127.0.0.1"], env, program=str(ROOT / "bin" / "api"))
    await api.wait_for_event("api.ready")
    await api.wait_for_line(lambda line: listening.format(port=port) in line)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        ready = await http.get("/health/ready", headers={"X-Request-Id": "real-1"})
    assert ready.status_code == 200, ready.text
    checks = ready.json()["data"]["checks"]
    assert checks["postgres"]["status"] == "ok"
    assert checks["postgres"]["migrations"] == "at_head"
    assert checks["redis"]["status"] == "ok"
    assert ready.headers["x-request-id"] == "real-1"
    assert ready.headers["x-packfinderz-env"] == env_name

    api.signal(signal.SIGTERM)
    assert await api.wait_exit(timeout=30) == exit_code
    assert any("Application shutdown complete." in line for line in api.stdout)
    assert "Traceback" not in api.output()
    # one JSON object per line on stdout, gunicorn's own lines included
    assert api.stderr == []
    assert len(api.events()) == len([line for line in api.stdout if line.strip()])


def test_version_prints_version_revision_and_head() -> None:
    deployed = run(["version"], child_env(SOURCE_VERSION="0123456789abcdef0123"))
    assert deployed.returncode == 0, deployed.stderr
    assert deployed.stdout.splitlines() == [
        f"packfinderz {__version__}",
        "revision:  0123456789ab",
        f"migration head: {migrations.head_revision()}",
    ]
    local = run(["version"], child_env())
    git = subprocess.run(
        ["git", "rev-parse", "--short=12", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    expected = git.stdout.strip() if git.returncode == 0 else "unknown"
    assert local.stdout.splitlines()[1] == f"revision:  {expected}"


def test_heroku_yml_builds_the_dockerfile_and_runs_both_processes() -> None:
    manifest = yaml.safe_load((ROOT / "heroku.yml").read_text())
    assert manifest == {"build": {"docker": {"web": "Dockerfile", "worker": "Dockerfile"}}, "run": PROCESSES}


def test_procfile_declares_the_same_processes() -> None:
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    declared = dict(line.split(":", 1) for line in lines)
    assert {kind: command.strip() for kind, command in declared.items()} == PROCESSES


def test_shims_are_executable_and_exec_the_cli() -> None:
    for name, command in (("api", "api"), ("worker", "worker"), ("migrate", "migrate")):
        path = ROOT / "bin" / name
        assert os.access(path, os.X_OK), f"bin/{name} is not executable"
        source = path.read_text()
        assert source.startswith("#!/bin/sh\n")
        assert "set -eu" in source
        # ./.venv when present, the installed package otherwise; exec so signals reach Python
        assert f'exec "$here/.venv/bin/packfinderz" {command} "$@"' in source
        assert f'exec packfinderz {command} "$@"' in source
    result = subprocess.run(
        [str(ROOT / "bin" / "migrate"), "validate"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout) == (0, "migration validation passed\n")


def test_dockerfile_is_multi_stage_non_root_and_runs_bin_api() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\w+))?$", dockerfile, re.MULTILINE)
    assert [alias for _, alias in stages] == ["build", "runtime"]
    assert all(image == "python:${PYTHON_VERSION}-slim" for image, _ in stages)
    build, runtime = dockerfile.split("AS runtime")
    assert "uv sync --frozen --no-dev --extra gcp" in build
    assert "UV_PROJECT_ENVIRONMENT=/app/.venv" in build
    for copied in (
        "COPY --from=build /app/.venv /app/.venv",
        "COPY src/ src/",
        "COPY migrations/ migrations/",
        "COPY alembic.ini ./",
        "COPY bin/ bin/",
    ):
        assert copied in runtime
    assert "PATH=/app/.venv/bin:$PATH" in runtime
    assert "PORT=8080" in runtime
    assert "--uid 10001" in runtime
    assert "\nUSER 10001:10001\n" in runtime
    assert runtime.rstrip().endswith('CMD ["bin/api"]')


def test_dockerignore_keeps_secrets_and_local_state_out() -> None:
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var/", "tests/", ".env*", ".packfinderz"} <= ignored
    assert not {"src", "src/", "migrations", "bin", "README.md", "uv.lock", "pyproject.toml"} & ignored


def test_python_version_file_satisfies_requires_python() -> None:
    pinned = (ROOT / ".python-version").read_text().strip()
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert required == ">=3.11"
    assert tuple(int(part) for part in pinned.split(".")[:2]) >= (3, 11)


async def test_sigterm_turns_readiness_503_first_and_keeps_serving_while_draining(
    settings: Settings, spawn: Spawn, tmp_path: Path
) -> None:
    """Issue #20: a deploy's SIGTERM takes the api out of rotation (readiness 503) before it stops
    accepting, and requests arriving meanwhile are still served; then it exits 0."""
    assert settings.db_dsn is not None
    assert settings.redis_url is not None
    port = free_port()
    env = child_env(
        PACKFINDERZ_APP_ENV="prod",
        PACKFINDERZ_DB_DSN=settings.db_dsn.get_secret_value(),
        PACKFINDERZ_REDIS_URL=settings.redis_url.get_secret_value(),
        PACKFINDERZ_STORAGE_LOCAL_DIR=str(tmp_path / "storage"),
        PACKFINDERZ_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        PACKFINDERZ_SHUTDOWN_DRAIN_SECONDS="4",
        PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prom"),
        PORT=str(port),
        WEB_CONCURRENCY="1",
        **PROD_SECRETS,
    )
    (tmp_path / "prom").mkdir()
    api = spawn(["--host", "127.0.0.1"], env, program=str(ROOT / "bin" / "api"))
    await api.wait_for_event("api.ready", timeout=180)  # generous: the machine may be loaded
    await api.wait_for_line(lambda line: f"Listening at: http://127.0.0.1:{port}" in line)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        assert (await http.get("/health/ready")).status_code == 200
        api.signal(signal.SIGTERM)
        await api.wait_for_event("api.draining", timeout=30)
        ready = await http.get("/health/ready")
        assert ready.status_code == 503
        error = ready.json()["error"]
        assert error["code"] == "DEPENDENCY_ERROR"
        assert error["details"]["dependency"] == "shutdown"
        assert error["details"]["status"] == "draining"
        # still accepting and serving while out of rotation
        assert (await http.get("/health/live")).status_code == 200
        assert api.popen.poll() is None
    assert await api.wait_exit(timeout=40) == 0
    assert "Traceback" not in api.output()
