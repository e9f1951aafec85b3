"""Open-loop load (issue #21): Poisson arrivals at a fixed offered rate, CPU per request from /proc, and
the previous main's api started beside the working tree's, so both are measured in the same run.

Open loop: request i is *scheduled* at t_i (exponential gaps of mean 1/rate, a fixed seed per rate) and
timed from t_i, not from when it was sent, so a server (or a load generator) that falls behind shows
its queueing in the latency instead of quietly lowering the rate. Answers never slow the arrivals.
"""

from __future__ import annotations

import asyncio
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._common import ROOT, Http, percentile, wait_ready

BASELINE_REF = os.environ.get("BENCH_BASELINE_REF", "62ab831")
SHORT = os.environ.get("BENCH_SHORT", "") not in ("", "0")
RATES = [
    int(r) for r in os.environ.get("BENCH_RATES", "25,50,100" if SHORT else "25,50,100,200,400").split(",")
]
SECONDS = float(os.environ.get("BENCH_OPEN_SECONDS", "5" if SHORT else "20"))
TIMEOUT = 5.0  # a request unanswered after this long counts as an error (a timeout)
P95_LIMIT_MS = 100.0  # capacity: the highest offered rate with p95 at or under this and no error
GIVE_UP_P95_MS = 2000.0  # a side this far past saturation skips the higher rates (they cannot pass)
CLK_TCK = os.sysconf("SC_CLK_TCK")
KEEP_ALIVE_S = 2.0  # below uvicorn's 5 s keep-alive timeout

# One request of a scenario: given a connection, send it; return (status, extra) where extra may carry
# sub-timings. The scenario decides which statuses are successes, expected refusals or errors.
Send = Callable[[Http, int], Awaitable[int]]


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


# --- CPU from /proc ---------------------------------------------------------------------------------


def _proc_table() -> dict[int, tuple[int, float]]:
    """pid -> (ppid, cpu seconds incl. reaped children) for every readable process."""
    table: dict[int, tuple[int, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is state (field 3); utime, stime, cutime, cstime are fields 14-17.
        ticks = sum(int(v) for v in fields[11:15])
        table[int(entry)] = (int(fields[1]), ticks / CLK_TCK)
    return table


def tree_cpu(root: int) -> float:
    """CPU seconds used so far by `root` and its descendants (reaped children included by the kernel)."""
    table = _proc_table()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    total, stack = 0.0, [root]
    while stack:
        pid = stack.pop()
        if pid in table:
            total += table[pid][1]
        stack.extend(children.get(pid, []))
    return total


def postmaster_pid(pg_folder: Path) -> int:
    return int((pg_folder / "postmaster.pid").read_text().split("\n")[0])


# --- the previous main beside the working tree ------------------------------------------------------


def baseline_checkout(data: Path) -> Path:
    """The previous main (BENCH_BASELINE_REF) checked out under the bench data dir, its venv synced."""
    folder = data / f"baseline-{BASELINE_REF}"
    if not (folder / ".git").exists():
        shutil.rmtree(folder, ignore_errors=True)
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(folder), BASELINE_REF],
            check=True,
            capture_output=True,
        )
    if not (folder / ".venv" / "bin" / "python").exists():
        uv = shutil.which("uv") or "uv"
        subprocess.run([uv, "sync", "--frozen", "--all-extras"], cwd=folder, check=True, capture_output=True)
    return folder


@dataclass
class Api:
    """One api (gunicorn master + uvicorn workers) started from a checkout."""

    name: str
    port: int
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)


async def start_api(name: str, checkout: Path, env: dict[str, str], port: int, log_path: Path) -> Api:
    """`packfinderz api` of `checkout` (its own venv and sources) on `port`, as in production."""
    env = {
        **env,
        "PORT": str(port),
        "PACKFINDERZ_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "PROMETHEUS_MULTIPROC_DIR": str(log_path.parent / f"prom-{name}"),
    }
    shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True)  # noqa: ASYNC240 - once, at startup
    python = checkout / ".venv" / "bin" / "python"
    with log_path.open("wb") as out:
        process = subprocess.Popen(  # noqa: ASYNC220 - the server under test, started once
            [str(python), "-m", "packfinderz.cli", "api", "--host", "127.0.0.1"],
            env=env,
            cwd=checkout,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    api = Api(name, port, process)
    try:
        await wait_ready(port, lambda: process.poll() is not None, log_path)
    except BaseException:
        api.stop()
        raise
    return api


# --- one offered rate -------------------------------------------------------------------------------


@dataclass
class Run:
    """The outcome of one side at one offered rate."""

    rate: int
    latencies: list[float] = field(default_factory=list)  # seconds from the scheduled send, successes only
    refused: int = 0  # expected refusals (e.g. 409 sold out / admission), timed apart
    refused_latencies: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # status code or "timeout"/"connection" -> count
    sent: int = 0
    late_ms_p95: float = 0.0  # how late the generator itself sent (its own saturation)
    api_cpu_s: float = 0.0
    pg_cpu_s: float = 0.0
    elapsed: float = 0.0
    skipped: bool = False

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def answered(self) -> int:
        return len(self.latencies) + self.refused

    def p(self, fraction: float) -> float:
        return round(percentile(self.latencies, fraction) * 1000, 1)

    def passes(self) -> bool:
        return (
            not self.skipped
            and self.error_count == 0
            and bool(self.latencies)
            and self.p(0.95) <= P95_LIMIT_MS
        )

    def summary(self) -> dict[str, Any]:
        if self.skipped:
            return {"rate": self.rate, "skipped": "saturated at a lower rate"}
        answered = max(self.answered, 1)
        return {
            "rate": self.rate,
            "sent": self.sent,
            "ok": len(self.latencies),
            "achieved_per_s": round(len(self.latencies) / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": self.p(0.50),
            "p95_ms": self.p(0.95),
            "p99_ms": self.p(0.99),
            "refused_409": self.refused,
            "refused_p95_ms": round(percentile(self.refused_latencies, 0.95) * 1000, 1),
            "errors": dict(self.errors),
            "api_cpu_ms_per_req": round(self.api_cpu_s * 1000 / answered, 2),
            "pg_cpu_ms_per_req": round(self.pg_cpu_s * 1000 / answered, 2),
            "generator_late_p95_ms": self.late_ms_p95,
        }


Classify = Callable[[int], str]  # status -> "ok" | "refused" | "replayed" | "error"


async def offered_load(
    port: int,
    rate: int,
    seconds: float,
    send: Send,
    classify: Classify,
    *,
    api_pid: int,
    pg_pid: int,
    seed: int,
    first_index: int = 0,
) -> Run:
    """Offer `rate` requests/s (Poisson) for `seconds`; request i gets the index first_index + i."""
    rng = random.Random(seed)
    schedule, t = [], rng.expovariate(rate)
    while t < seconds:
        schedule.append(t)
        t += rng.expovariate(rate)
    run = Run(rate)
    idle: list[tuple[float, Http]] = []  # (last used, connection), oldest first
    late: list[float] = []

    async def one(index: int, due: float) -> None:
        late.append(time.perf_counter() - due)
        # Reuse the most recently used keep-alive connection; one idle for a while may have been
        # closed by the server's keep-alive timeout, so those are dropped instead.
        while idle and time.perf_counter() - idle[0][0] > KEEP_ALIVE_S:
            idle.pop(0)[1].close()
        try:
            http = idle.pop()[1] if idle else await asyncio.wait_for(Http.open(port), TIMEOUT)
        except (OSError, TimeoutError):
            run.errors["connection"] = run.errors.get("connection", 0) + 1
            return
        try:
            status = await asyncio.wait_for(send(http, index), TIMEOUT)
        except TimeoutError:
            http.close()
            run.errors["timeout"] = run.errors.get("timeout", 0) + 1
            return
        except (OSError, asyncio.IncompleteReadError):
            http.close()
            run.errors["connection"] = run.errors.get("connection", 0) + 1
            return
        took = time.perf_counter() - due
        idle.append((time.perf_counter(), http))
        kind = classify(status)
        if kind == "ok":
            run.latencies.append(took)
        elif kind == "refused":
            run.refused += 1
            run.refused_latencies.append(took)
        elif kind == "replayed":
            run.errors["replayed"] = run.errors.get("replayed", 0) + 1
        else:
            run.errors[str(status)] = run.errors.get(str(status), 0) + 1

    api_before, pg_before = tree_cpu(api_pid), tree_cpu(pg_pid)
    started = time.perf_counter()
    tasks = []
    for index, offset in enumerate(schedule):
        due = started + offset
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(first_index + index, due)))
    await asyncio.gather(*tasks)
    run.elapsed = time.perf_counter() - started
    run.api_cpu_s = tree_cpu(api_pid) - api_before
    run.pg_cpu_s = tree_cpu(pg_pid) - pg_before
    run.sent = len(schedule)
    run.late_ms_p95 = round(percentile(late, 0.95) * 1000, 1)
    for _, http in idle:
        http.close()
    return run


# Each rate's requests take indexes [step * INDEXES_PER_RUN, ...): more than any run sends (400/s x 20 s).
INDEXES_PER_RUN = 100_000
WARM_UP_FIRST_INDEX = 10 * INDEXES_PER_RUN


def capacity(runs: list[Run]) -> int:
    """The highest offered rate whose p95 is at or under P95_LIMIT_MS with no error (0: none)."""
    return max((r.rate for r in runs if r.passes()), default=0)


async def sweep(
    apis: list[Api],
    send: Send,
    classify: Classify,
    *,
    pg_pid: int,
    seed: int,
    before_run: Callable[[], Awaitable[None]] | None = None,
) -> dict[str, list[Run]]:
    """Every rate, each api in turn (order alternating per rate, so drift weighs on both alike).

    `before_run` runs before each side's run (e.g. to restock a flash sale so both sides sell the same)."""
    runs: dict[str, list[Run]] = {api.name: [] for api in apis}
    for step, rate in enumerate(RATES):
        order = apis if step % 2 == 0 else list(reversed(apis))
        for api in order:
            previous = runs[api.name][-1] if runs[api.name] else None
            if previous is not None and (previous.skipped or previous.p(0.95) > GIVE_UP_P95_MS):
                runs[api.name].append(Run(rate, skipped=True))
                continue
            await asyncio.sleep(1)  # let the previous side's stragglers settle
            if before_run is not None:
                await before_run()
            run = await offered_load(
                api.port,
                rate,
                SECONDS,
                send,
                classify,
                api_pid=api.process.pid,
                pg_pid=pg_pid,
                seed=seed + rate,
                # Both sides get the same requests at a rate; each rate gets requests of its own (a
                # cache is not handed the previous rate's draws again).
                first_index=step * INDEXES_PER_RUN,
            )
            runs[api.name].append(run)
            summary = run.summary()
            log(
                f"{api.name:>8} @ {rate:>3}/s: p50 {summary['p50_ms']} p95 {summary['p95_ms']} "
                f"p99 {summary['p99_ms']} ms, ok {summary['ok']}, 409 {run.refused}, errors {run.errors}, "
                f"cpu api {summary['api_cpu_ms_per_req']} pg {summary['pg_cpu_ms_per_req']} ms/req"
            )
    return runs


def table(title: str, runs: dict[str, list[Run]]) -> str:
    """A plain-text side-by-side table (stderr) of the sweep."""
    names = list(runs)
    width = 54
    header = f"{'p50':>7} {'p95':>7} {'p99':>7} {'ok/s':>6} {'err':>5} {'api':>6} {'pg':>6} "
    lines = [title, f"{'rate/s':>8} | " + " | ".join(f"{n:^{width}}" for n in names)]
    lines.append(f"{'':>8} | " + " | ".join(header for _ in names))
    for index, rate in enumerate(RATES):
        cells = []
        for name in names:
            run = runs[name][index]
            if run.skipped:
                cells.append(f"{'(saturated at a lower rate)':^{width}}")
            else:
                summary = run.summary()
                api_ms, pg_ms = summary["api_cpu_ms_per_req"], summary["pg_cpu_ms_per_req"]
                cells.append(
                    f"{run.p(0.5):>7} {run.p(0.95):>7} {run.p(0.99):>7} {summary['achieved_per_s']:>6} "
                    f"{run.error_count:>5} {api_ms:>6} {pg_ms:>6} "
                )
        lines.append(f"{rate:>8} | " + " | ".join(cells))
    lines.append(f"{'capacity':>8} | " + " | ".join(f"{capacity(runs[n]):^{width}}" for n in names))
    lines.append(
        "(latency ms from the scheduled send; ok/s = successful answers per second; err = timeouts, "
        "5xx, unexpected statuses; api, pg = CPU ms per request)"
    )
    return "\n".join(lines)
