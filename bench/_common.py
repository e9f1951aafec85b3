"""Helpers shared by the benchmarks: percentiles and JSON output."""

from __future__ import annotations

import json
import math
from typing import Any


def percentile(samples: list[float], fraction: float) -> float:
    """Nearest-rank percentile of the samples (0 when empty)."""
    if not samples:
        return 0.0
    ordered = sorted(samples)
    rank = max(math.ceil(fraction * len(ordered)) - 1, 0)
    return ordered[rank]


def report(name: str, figures: dict[str, Any]) -> None:
    """Print one benchmark's figures as a JSON line."""
    print(json.dumps({"benchmark": name, **figures}, default=str))
