"""A consumers process that SIGKILLs itself at a chosen point, for the crash tests (crash injection).

Usage: python -m tests.events.crashing_consumer before-guard|before-ack
- before-guard: the handler's transaction committed, the guard is still `processing`, nothing acked.
- before-ack: the guard says `done`, the message is not acked.
Settings come from the environment like any worker; the `processing` guard expires after 1 s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from typing import Any

from packfinderz.config import load_settings
from packfinderz.events.consumer import ConsumerRunner, load_consumers
from packfinderz.events.registry import TOPICS
from packfinderz.kit.db import create_database
from packfinderz.kit.redis import create_redis
from packfinderz.kit.transport import create_transport
from packfinderz.kit.transport.redis_streams import RedisStreamMessage


def crash(*_: Any, **__: Any) -> None:
    os.kill(os.getpid(), signal.SIGKILL)


async def main(mode: str) -> None:
    settings = load_settings({"db", "app"})
    runner = ConsumerRunner(
        settings,
        create_database(settings),
        create_redis(settings),
        create_transport(settings, topics=TOPICS),
        [load_consumers()["notifications"]],
        processing_ttl=1,
    )
    if mode == "before-guard":
        runner._mark_done = crash  # type: ignore[method-assign,assignment]
    else:
        RedisStreamMessage.ack = crash  # type: ignore[method-assign,assignment]
    await runner.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
