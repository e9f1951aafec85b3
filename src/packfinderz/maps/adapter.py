"""Choosing the maps adapter from config (platform.md §5 `MAPS_PROVIDER`)."""

from __future__ import annotations

from packfinderz.config import Settings
from packfinderz.maps.base import Maps, NoMaps
from packfinderz.maps.google import GoogleMaps


def create_maps(settings: Settings) -> Maps:
    """`none` (default) or `google` (needs GOOGLE_MAPS_API_KEY; config validation enforces it)."""
    if settings.maps_provider == "google":
        key = settings.google_maps_api_key
        if key is None:
            return NoMaps()
        return GoogleMaps(key.get_secret_value(), settings.google_places_base_url, settings.maps_timeout)
    return NoMaps()
