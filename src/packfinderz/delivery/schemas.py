"""Agent and dispatch request/response models (commerce.md §9)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from packfinderz.kit.schemas import AsInteger, Input, Latitude, Longitude
from packfinderz.orders import examples
from packfinderz.orders.schemas import ActionResult, AssignmentDTO

_AGENT_ID = examples.ASSIGNMENT["agent_user_id"]

AgentStatus = Literal["available", "busy", "offline"]


class HeartbeatIn(Input):
    """Sent every ≤ 60 s; `lat` and `lng` come together or not at all."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "available", "lat": 39.7392, "lng": -104.9903}]}
    )

    status: AgentStatus
    lat: Latitude | None = None
    lng: Longitude | None = None


class HeartbeatOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"status": "available", "at": "2026-12-07T15:20:00Z", "expires_in_s": 120}]
        }
    )

    status: AgentStatus
    at: datetime
    expires_in_s: int


class LastHeartbeat(BaseModel):
    status: AgentStatus
    lat: float | None
    lng: float | None
    at: datetime


class AgentDTO(BaseModel):
    """An agent as admins see it: presence comes from the heartbeat (no fresh heartbeat = offline)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "user_id": _AGENT_ID,
                    "email": "agent@demo.example.com",
                    "first_name": "Dana",
                    "last_name": "Driver",
                    "is_active": True,
                    "presence": "available",
                    "last_heartbeat": {
                        "status": "available",
                        "lat": 39.7392,
                        "lng": -104.9903,
                        "at": "2026-12-07T15:20:00Z",
                    },
                    "active_assignments": 1,
                }
            ]
        }
    )

    user_id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    is_active: bool
    presence: AgentStatus
    last_heartbeat: LastHeartbeat | None
    active_assignments: int


class CashIn(Input):
    """The amount the agent counted, when they counted it."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"amount_cents": 7500}]})

    amount_cents: Annotated[int, Field(ge=0, le=10**9), AsInteger] | None = None


class ClaimResult(ActionResult):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **examples.ACTION_RESULT,
                    "status": "hold_for_pickup",
                    "fulfillment_status": "fulfilled",
                    "assignment": examples.ASSIGNMENT,
                }
            ]
        }
    )

    assignment: AssignmentDTO


class AssignIn(Input):
    model_config = ConfigDict(json_schema_extra={"examples": [{"agent_user_id": _AGENT_ID}]})

    agent_user_id: uuid.UUID


class AssignResult(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"order_id": examples.ORDER_ID, "assignment": {**examples.ASSIGNMENT, "source": "admin"}}
            ]
        }
    )

    order_id: uuid.UUID
    assignment: AssignmentDTO
