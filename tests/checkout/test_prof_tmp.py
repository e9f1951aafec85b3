from __future__ import annotations

import cProfile
import pstats
import time

import httpx

from packfinderz.kit.db import Database
from tests.checkout.conftest import checkout_body, create_product, line, market, post_checkout, post_quote


async def test_prof(client: httpx.AsyncClient, db: Database) -> None:
    m = await market(client, db)
    ps = [await create_product(client, v, inventory={"available_qty": 1000000}) for v in (m.vendor_a, m.vendor_b) for _ in range(2)]
    async def one() -> None:
        q = await post_quote(client, m.buyer, {"items": [line(ps[0], 2), line(ps[1], 1), line(ps[2], 3)]})
        r = await post_checkout(client, m.buyer, checkout_body(q.json()["data"]["id"]))
        assert r.status_code == 201
    for _ in range(20):
        await one()
    t = time.perf_counter()
    c = time.process_time()
    n = 200
    for _ in range(n):
        await one()
    print("per iteration wall ms", (time.perf_counter() - t) * 1000 / n, "cpu ms", (time.process_time() - c) * 1000 / n)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(n):
        await one()
    prof.disable()
    st = pstats.Stats(prof)
    groups: dict[str, float] = {}
    for (file, _line, _fn), (_cc, _nc, tt, _ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        key = file
        for marker in ("site-packages/", "src/packfinderz/", "lib/python3.11/"):
            if marker in file:
                rest = file.split(marker, 1)[1]
                key = marker.split("/")[0] + ":" + rest.split("/")[0]
                if rest.startswith("packfinderz") or marker == "src/packfinderz/":
                    key = "pf:" + rest
                break
        groups[key] = groups.get(key, 0) + tt
    for k, v in sorted(groups.items(), key=lambda kv: -kv[1])[:5]:
        print(f"{v*1000/n:8.2f} ms/iter  {k}")
    for (file, lineno, fn), (_cc, nc, tt, ct, _callers) in sorted(st.stats.items(), key=lambda kv: -kv[1][3]):  # type: ignore[attr-defined]
        if "site-packages/sqlalchemy" in file and ct * 1000 / n > 0.8:
            print(f"{ct*1000/n:8.2f} ms/iter cum {nc/n:5.1f} calls  {file.split('site-packages/')[1]}:{lineno} {fn}")
