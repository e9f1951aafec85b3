"""`packfinderz dev` (make dev): the configured port is the default, and a taken port is one clear line."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from packfinderz.cli import dev_port
from tests.fixtures.processes import child_env, run


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A port something already listens on, on every interface (as the api would bind it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


def test_dev_port_is_the_option_else_port_else_app_port_else_8080(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PORT", raising=False)
    monkeypatch.delenv("PACKFINDERZ_APP_PORT", raising=False)
    assert dev_port(None) == 8080
    monkeypatch.setenv("PACKFINDERZ_APP_PORT", "9100")
    assert dev_port(None) == 9100
    monkeypatch.setenv("PORT", "9000")
    assert dev_port(None) == 9000  # PORT wins, as the configuration table says
    assert dev_port(7000) == 7000  # an explicit --port wins over both


@pytest.mark.parametrize("how", ["PORT", "--port"])
def test_dev_on_a_taken_port_stops_with_one_clear_line(taken_port: int, how: str) -> None:
    env = child_env(PORT=str(taken_port)) if how == "PORT" else child_env()
    args = ["dev", "--no-seed"] if how == "PORT" else ["dev", "--no-seed", "--port", str(taken_port)]
    done = run(args, env, timeout=120)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"port {taken_port} is already in use" in lines[0]
    assert "PORT=" in lines[0]  # says how to pick another
    assert "Traceback" not in done.stdout + done.stderr
