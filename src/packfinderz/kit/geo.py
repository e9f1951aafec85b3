"""Great-circle distance, the float64 formula the database's pf_distance_m also computes."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # the radius pf_distance_m uses (catalog migration)


def distance_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    """Haversine distance in metres (asin argument clamped), operation for operation as in SQL."""
    a = (
        math.sin(math.radians(lat2 - lat1) / 2) ** 2
        + math.cos(math.radians(lat1))
        * math.cos(math.radians(lat2))
        * math.sin(math.radians(lng2 - lng1) / 2) ** 2
    )
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
