"""The test suite's own isolation on an external Redis (PACKFINDERZ_TEST_REDIS_URL).

Two checkouts pointed at one Redis must never flush each other: every worker of every run claims a
logical database of its own. The "external" Redis here is a redis-server this test starts and owns.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from packfinderz.kit import embedded
from tests.fixtures.servers import (
    REDIS_CLAIM_KEY,
    RedisDatabasesTaken,
    claim_redis_database,
    release_redis_database,
)


@pytest.fixture
def shared_redis(tmp_path: Path) -> Iterator[str]:
    server = embedded.start_redis(tmp_path / "redis", persist=False)
    try:
        yield server.url(0)
    finally:
        server.stop()


def test_two_runs_with_the_same_worker_number_get_different_databases(
    shared_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    monkeypatch.delenv("PACKFINDERZ_TEST_NAMESPACE", raising=False)
    first = claim_redis_database(shared_redis, "checkout-a")
    second = claim_redis_database(shared_redis, "checkout-b")
    assert first != second
    with Redis.from_url(first) as a, Redis.from_url(second) as b:
        assert a.get(REDIS_CLAIM_KEY) == b"checkout-a"
        assert b.get(REDIS_CLAIM_KEY) == b"checkout-b"
        b.set("pf:some:key", "1")
        a.flushdb()  # run A cleaning up before its next test...
        assert b.get("pf:some:key") == b"1"  # ...leaves run B's keys alone


def test_the_namespace_moves_the_first_database_tried(
    shared_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    chosen = set()
    for namespace in ("alpha", "beta", "gamma", "delta"):
        monkeypatch.setenv("PACKFINDERZ_TEST_NAMESPACE", namespace)
        url = claim_redis_database(shared_redis, namespace)
        release_redis_database(url, namespace)  # free again: only the first choice is observed
        chosen.add(url)
    assert len(chosen) > 1


def test_all_fifteen_claimed_is_a_clear_error_and_release_frees_one(
    shared_redis: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    urls = [claim_redis_database(shared_redis, f"run-{n}") for n in range(15)]
    assert len(set(urls)) == 15
    numbers = {Redis.from_url(url).connection_pool.connection_kwargs["db"] for url in urls}
    assert numbers == set(range(1, 16))  # database 0 is never used by the tests
    with pytest.raises(RedisDatabasesTaken):
        claim_redis_database(shared_redis, "one-too-many")
    release_redis_database(urls[4], "someone-else")  # not ours: kept
    with pytest.raises(RedisDatabasesTaken):
        claim_redis_database(shared_redis, "one-too-many")
    release_redis_database(urls[4], "run-4")
    assert claim_redis_database(shared_redis, "one-too-many") == urls[4]
