"""Helpers shared by the benchmarks: percentiles, JSON output, the production api environment, HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import os
import secrets
import socket
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.fixtures.factories import DEFAULT_ADDRESS

ROOT = Path(__file__).resolve().parents[1]
# Where the benches keep their embedded Postgres/Redis and seeded catalogs: BENCH_DATA (shared between
# worktrees so a 1M-product catalog is seeded once), default .packfinderz/bench in this checkout.
BENCH_DATA = Path(os.environ.get("BENCH_DATA") or ROOT / ".packfinderz" / "bench").resolve()


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of the samples (0 when empty)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(math.ceil(fraction * len(ordered)) - 1, 0)
    return ordered[rank]


def report(name: str, figures: dict[str, Any], failures: dict[str, int] | None = None) -> None:
    """Print one benchmark's figures as a JSON line; exit 1 when a correctness figure is wrong.

    `failures` holds the counts that must be 0 (oversold units, non-2xx answers, lost or duplicated
    events): they are printed with the figures, and any non-zero one fails the run (and `make bench`),
    so a fast but wrong system never reads as a good result.
    """
    wrong = {k: v for k, v in (failures or {}).items() if v}
    print(
        json.dumps({"benchmark": name, **figures, "failures": failures or {}, "ok": not wrong}, default=str)
    )
    sys.stdout.flush()
    if wrong:
        print(f"bench {name}: correctness figures are wrong: {wrong}", file=sys.stderr)
        raise SystemExit(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


_FAKE_SQUARE_URL: list[str] = []


def fake_square_url() -> str:
    """Base URL of the project's fake Square (tests/fixtures/fake_square.py), started once per bench.

    A production-configured api calls Square when a vendor registers (billing customer); a benchmark must
    never send traffic off this machine, so its apis talk to the fake on a loopback port."""
    if not _FAKE_SQUARE_URL:
        from tests.fixtures.fake_square import start_fake_square

        fake, _server, _thread = start_fake_square()
        _FAKE_SQUARE_URL.append(fake.url)
    return _FAKE_SQUARE_URL[0]


# The address every bench store signs up with (the tests' default one), and the settings that make
# seeding sign-ups cheap: the benches register many buyers from one address (no register limit) and
# hash passwords fast.
ADDRESS = DEFAULT_ADDRESS
FAST_SIGNUPS = {
    "PACKFINDERZ_AUTH_RATE_LIMIT_REGISTER_WINDOW": "0",
    "PACKFINDERZ_ARGON_MEMORY_KB": "8192",
    "PACKFINDERZ_ARGON_TIME": "1",
}


def prod_api_environment(
    db_url: str,
    redis_url: str,
    port: int,
    *,
    workers: int,
    data: Path,
    pool_size: int,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Environment of an api run as in production, with throwaway secrets and unused billing values."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PACKFINDERZ_")}
    env.update(
        {
            "PACKFINDERZ_APP_ENV": "prod",
            "PACKFINDERZ_DB_DSN": db_url,
            "PACKFINDERZ_REDIS_URL": redis_url,
            "PORT": str(port),
            "WEB_CONCURRENCY": str(workers),
            "PROMETHEUS_MULTIPROC_DIR": str(data / "prom"),
            "PACKFINDERZ_JWT_SECRET": secrets.token_urlsafe(48),
            "PACKFINDERZ_ADS_TOKEN_SECRET": secrets.token_urlsafe(48),
            "PACKFINDERZ_STORAGE_SIGNING_SECRET": secrets.token_urlsafe(48),
            "PACKFINDERZ_METRICS_TOKEN": secrets.token_urlsafe(48),
            "PACKFINDERZ_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "PACKFINDERZ_SQUARE_ACCESS_TOKEN": "bench-not-used",
            "PACKFINDERZ_SQUARE_LOCATION_ID": "bench",
            "PACKFINDERZ_SQUARE_WEBHOOK_SIGNATURE_KEY": "bench-not-used",
            "PACKFINDERZ_SQUARE_WEBHOOK_URL": f"http://127.0.0.1:{port}/api/v1/webhooks/square",
            "PACKFINDERZ_SQUARE_BASE_URL": fake_square_url(),
            "PACKFINDERZ_STORAGE_LOCAL_DIR": str(data / "storage"),
            "PACKFINDERZ_DB_POOL_SIZE": str(pool_size),
            **(extra or {}),
        }
    )
    return env


async def wait_ready(port: int, exited: Callable[[], bool], log_path: Path) -> None:
    """Poll /health/ready until 200; fail if the api process exits (`exited`) or after 60 s."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if exited():
            raise SystemExit(f"the api exited during startup; see {log_path}")
        try:
            http = await Http.open(port)
            try:
                status, _ = await http.request("GET", "/health/ready", {})
            finally:
                http.close()
            if status == 200:
                return
        except OSError:
            pass
        await asyncio.sleep(0.3)
    raise SystemExit("the api did not become ready in 60 s")


# --- a minimal keep-alive HTTP/1.1 client (cheap enough to share 2 cores with the server) ----------


class Http:
    """One keep-alive connection issuing GET/POST requests and reading Content-Length bodies."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> Http:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        length = 0
        for line in header_lines:
            name, _, value = line.partition(":")
            if name.lower() == "content-length":
                length = int(value)
        payload = await self.reader.readexactly(length)
        return int(status_line.split()[1]), payload

    def close(self) -> None:
        self.writer.close()
