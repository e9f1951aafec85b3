"""The maps adapter protocol, its results, its errors, and the `none` adapter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from packfinderz.kit.errors import AppError


class MapsUnavailable(AppError):
    """DEPENDENCY_ERROR 503 `{dependency: "maps"}`, with a message saying what went wrong."""

    code, status, message = "DEPENDENCY_ERROR", 503, "dependency unavailable"

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, details={"dependency": "maps"})


class PlaceNotFound(AppError):
    """The provider does not know the place id the client sent."""

    code, status, message = "NOT_FOUND", 404, "place not found"


@dataclass(frozen=True)
class Suggestion:
    place_id: str
    description: str


@dataclass(frozen=True)
class ResolvedAddress:
    line1: str
    line2: str | None
    city: str
    state: str
    postal_code: str
    country: str
    lat: float
    lng: float


class Maps(Protocol):
    """What address lookup needs from a maps provider."""

    name: str

    async def suggest(self, query: str, country: str | None, language: str | None) -> list[Suggestion]:
        """Address predictions for a partial address (one page)."""
        ...

    async def resolve(self, place_id: str) -> ResolvedAddress:
        """The store address (identity.md §5) of a place."""
        ...

    async def aclose(self) -> None: ...


class NoMaps:
    """The `none` adapter: clients send lat/lng themselves; every lookup is 503 `{dependency: "maps"}`."""

    name = "none"

    async def suggest(self, query: str, country: str | None, language: str | None) -> list[Suggestion]:
        raise MapsUnavailable

    async def resolve(self, place_id: str) -> ResolvedAddress:
        raise MapsUnavailable

    async def aclose(self) -> None:
        return None
