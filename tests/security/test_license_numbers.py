"""Item 5 (issue #17): license numbers cannot be squatted.

Before the fix (issuing_state, number) was unique across all stores whatever the status: whoever submitted
a real licensee's number first blocked them with 409. Now it is unique among verified licenses of a state;
a second pending submission is accepted and shown to the reviewing admin.
"""

from __future__ import annotations

import httpx

from tests.fixtures.compliance import decide, submit_license
from tests.fixtures.factories import Account, register_buyer, register_vendor


async def test_a_squatted_number_does_not_block_the_real_licensee(
    client: httpx.AsyncClient, admin: dict[str, str]
) -> None:
    squatter: Account = await register_buyer(client)
    licensee: Account = await register_vendor(client)
    squatted = await submit_license(client, squatter, number="OK-DISP-7", issuing_state="OK")
    real = await submit_license(client, licensee, number="ok-disp-7", issuing_state="OK")
    assert real["status"] == "pending"

    # the admin reviewing either sees the other submission of the same number
    seen = await client.get(f"/api/admin/v1/licenses/{real['id']}", headers=admin)
    assert seen.status_code == 200
    assert seen.json()["data"]["same_number_licenses"] == [
        {"id": squatted["id"], "store_id": str(squatter.store_id), "status": "pending"}
    ]
    listed = await client.get("/api/admin/v1/licenses?issuing_state=OK", headers=admin)
    flags = {item["id"]: item["same_number_licenses"] for item in listed.json()["data"]["items"]}
    assert [other["id"] for other in flags[squatted["id"]]] == [real["id"]]

    assert (await decide(client, admin, real["id"], "verified")).status_code == 200
    # only one verified license per state and number
    second = await decide(client, admin, squatted["id"], "verified")
    assert second.status_code == 409
    assert second.json()["error"]["details"] == {"constraint": "uq_licenses_verified_issuing_state_number"}
    assert (
        await decide(client, admin, squatted["id"], "rejected", reason="not their license")
    ).status_code == 200
