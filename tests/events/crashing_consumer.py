"""A consumers process that SIGKILLs itself at a chosen point, for the crash tests (crash injection).

Usage: python -m tests.events.crashing_consumer before-guard|before-ack|mid-handler
- before-guard: the handler's transaction committed, the guard is still `processing`, nothing acked.
- before-ack: the guard says `done`, the message is not acked.
- mid-handler: killed inside the handler (nothing committed), with the production `processing` lease.
Settings come from the environment like any worker; in the first two modes the `processing` guard
expires after 1 s.
"""

from __future__ import annotations

import asyncio
import dataclasses
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


async def crashing_handler(*_: Any) -> None:
    await asyncio.sleep(0.2)  # the lease has been renewed at least once by now when it is short
    crash()


async def main(mode: str) -> None:
    settings = load_settings({"db", "app"})
    consumer = load_consumers()["notifications"]
    if mode == "mid-handler":
        consumer = dataclasses.replace(consumer, handler=crashing_handler)
    runner = ConsumerRunner(
        settings,
        create_database(settings),
        create_redis(settings),
        create_transport(settings, topics=TOPICS),
        [consumer],
        processing_ttl=None if mode == "mid-handler" else 1,
    )
    if mode == "mid-handler":
        pass
    elif mode == "before-guard":
        runner._mark_done = crash  # type: ignore[method-assign,assignment]
    else:
        RedisStreamMessage.ack = crash  # type: ignore[method-assign,assignment]
    await runner.run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
