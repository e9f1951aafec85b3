"""The short fault drill in the test run (issue #20): the real process layout under load through a
Redis restart, then the ledger of truth. A regression in reconnection, in the 503 answer of an outage
or in exactly-once event handling fails here; the full drill is `make bench` (bench/drill.py)."""

from __future__ import annotations

import json
from pathlib import Path

from bench.drill import DrillConfig, run_drill


async def test_a_short_drill_through_a_redis_restart_meets_every_target(tmp_path: Path) -> None:
    config = DrillConfig(
        data=tmp_path / "drill",
        apis=1,
        api_workers=1,
        workers=1,
        rate=5.0,
        baseline_seconds=2.0,
        recovery_seconds=4.0,
        faults=("redis_restart",),
        vendors=2,
        buyers=4,
        drain_seconds=1.0,
    )
    report = await run_drill(config)
    summary = json.dumps(report, indent=1)
    assert report["targets_missed"] == [], summary
    phase = report["phases"]["redis_restart"]
    assert phase["requests"] > 0, summary
    assert phase["failures_outside_window"] == 0
    assert phase["failures_not_503_dependency_with_retry_after"] == 0
    ledger = report["ledger"]
    assert ledger["pipeline_drained_seconds"] is not None, summary
    assert ledger["oversold_units"] == 0
    assert ledger["events"]["unpublished"] == ledger["events"]["dead_letters"] == 0
    assert (
        ledger["events"]["consumer_guards"].get("done", 0) == ledger["events"]["consumer_deliveries_expected"]
    )
    assert ledger["idempotency_stuck"] == 0
    assert ledger["cron_slots_run_twice"] == {}
