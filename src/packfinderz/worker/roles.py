"""The worker roles: `relay` (outbox relay), `consumers` (event consumers), `cron` (scheduler)."""

from __future__ import annotations

from packfinderz.cron.scheduler import CronRole
from packfinderz.events.consumer import ConsumersRole
from packfinderz.events.relay import RelayRole
from packfinderz.kit.worker_context import RoleFactory

ROLE_FACTORIES: dict[str, RoleFactory] = {"relay": RelayRole, "consumers": ConsumersRole, "cron": CronRole}
