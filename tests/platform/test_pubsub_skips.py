"""CI never stays silently green over skipped Pub/Sub tests: one loud line, or a failure when required."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.fixtures.processes import ROOT
from tests.fixtures.pubsub import emulator_required, skipped_line

ONE_PUBSUB_TEST = "tests/events/test_transport_contract.py"


def test_the_line_counts_the_pubsub_skips_and_says_why() -> None:
    reasons = [
        "('tests/events/x.py', 12, 'Skipped: Pub/Sub emulator not installed (gcloud component ...)')",
        "('tests/events/y.py', 40, 'Skipped: Pub/Sub emulator not installed (gcloud component ...)')",
        "('tests/other.py', 3, 'Skipped: something else')",
    ]
    line = skipped_line(reasons)
    assert line is not None
    assert line.startswith("!!! 2 Pub/Sub transport tests SKIPPED: Pub/Sub emulator not installed")
    assert "PACKFINDERZ_REQUIRE_PUBSUB_EMULATOR=1" in line
    assert skipped_line(reasons[2:]) is None


def test_required_follows_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PACKFINDERZ_TEST_REQUIRE_PUBSUB_EMULATOR", raising=False)
    monkeypatch.delenv("PACKFINDERZ_REQUIRE_PUBSUB_EMULATOR", raising=False)
    assert not emulator_required()
    monkeypatch.setenv("PACKFINDERZ_REQUIRE_PUBSUB_EMULATOR", "1")
    assert emulator_required()


def _pytest_without_emulator(**extra: str) -> subprocess.CompletedProcess[str]:
    """The Pub/Sub contract tests in a nested run (its own namespace) on a machine without the emulator."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PACKFINDERZ_"))}
    env.update(
        PACKFINDERZ_TEST_PUBSUB_EMULATOR="none",
        PACKFINDERZ_TEST_NAMESPACE="nestedpubsub",
        **extra,
    )
    return subprocess.run(
        [sys.executable, "-m", "pytest", ONE_PUBSUB_TEST, "-p", "no:xdist", "-p", "no:cacheprovider", "-q"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_a_run_without_the_emulator_says_so_and_fails_when_required() -> None:
    skipped = _pytest_without_emulator()
    assert skipped.returncode == 0, skipped.stdout[-2000:]
    [line] = [x for x in skipped.stdout.splitlines() if "Pub/Sub transport tests SKIPPED" in x]
    assert line.startswith("!!! ")
    assert int(line.split()[1]) > 0
    required = _pytest_without_emulator(PACKFINDERZ_REQUIRE_PUBSUB_EMULATOR="1")
    assert required.returncode != 0
    assert "PACKFINDERZ_REQUIRE_PUBSUB_EMULATOR=1 requires it" in required.stdout
    assert "Pub/Sub transport tests SKIPPED" not in required.stdout
