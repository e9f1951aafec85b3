"""HTTP: /api/v1/address (identity.md §15; public, no token)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from packfinderz.kit.errors import ValidationFailed
from packfinderz.kit.openapi import DataResponse, error_responses
from packfinderz.maps.base import Maps
from packfinderz.maps.schemas import AddressDTO, ResolveIn, SuggestResponse

router = APIRouter(prefix="/api/v1/address", tags=["address"])

S503 = (
    'DEPENDENCY_ERROR `{dependency: "maps"}`: no maps provider configured (`MAPS_PROVIDER=none`), or the '
    "provider failed or timed out."
)


def _maps(request: Request) -> Maps:
    maps: Maps = request.app.state.maps
    return maps


@router.get(
    "/suggest",
    response_model=SuggestResponse,
    responses=error_responses(400, s503=S503),
    summary="Address suggestions for a partial address (public)",
)
async def suggest(
    request: Request,
    query: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            pattern=r"\S",
            description="What the user typed: 1..200 characters, at least one not blank.",
            examples=["100 N Broadway, Oklahoma"],
        ),
    ],
    country: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{2}$", description="ISO 3166-1 alpha-2 region, e.g. `us`.")
    ] = None,
    language: Annotated[
        str | None,
        Query(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$", description="BCP 47 language, e.g. `en`."),
    ] = None,
) -> dict[str, Any]:
    """Public (no token). One page of `{place_id, description}` (no `limit`/`cursor`; `next_cursor` is
    null). A blank `query` is a 400; 503 when no maps provider is configured or it fails."""
    text = query.strip()
    if not text:
        raise ValidationFailed(details={"query": "must not be blank"})
    found = await _maps(request).suggest(text, country, language)
    return {"data": {"items": [asdict(s) for s in found], "next_cursor": None}}


@router.post(
    "/resolve",
    response_model=DataResponse[AddressDTO],
    responses=error_responses(
        400,
        404,
        s404="NOT_FOUND `place not found`: the provider does not know this place id.",
        s503=S503 + " Also when the place lacks a part of the address (`place has no location`, "
        "`… street address`, `… city`, `… state`, `… postal code`).",
    ),
    summary="The store address of a suggested place (public)",
)
async def resolve(body: ResolveIn, request: Request) -> dict[str, Any]:
    """Public (no token). line1 = street number + route (either alone), else the first segment of the
    formatted address; line2 = subpremise; city = locality, else postal town, else county; state and
    country short codes."""
    return {"data": asdict(await _maps(request).resolve(body.place_id))}
