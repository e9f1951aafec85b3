"""The worker roles: `relay` (outbox relay), `consumers` (event consumers), `cron` (scheduler)."""

from __future__ import annotations

from packfinderz.worker.runner import ROLE_FACTORIES


def register_roles() -> None:
    """Fill ROLE_FACTORIES (imported lazily: the roles import the runner's WorkerContext)."""
    from packfinderz.cron.scheduler import CronRole
    from packfinderz.events.consumer import ConsumersRole
    from packfinderz.events.relay import RelayRole

    ROLE_FACTORIES.setdefault("relay", RelayRole)
    ROLE_FACTORIES.setdefault("consumers", ConsumersRole)
    ROLE_FACTORIES.setdefault("cron", CronRole)
