"""Every ORM table; importing this package registers them all on Base.metadata (Alembic reads it)."""

from packfinderz.models.base import Base
from packfinderz.models.outbox import OutboxDLQ, OutboxEvent

__all__ = ["Base", "OutboxDLQ", "OutboxEvent"]
