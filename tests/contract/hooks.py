"""Schemathesis hooks of the contract fuzzer (loaded with SCHEMATHESIS_HOOKS=tests.contract.hooks).

- Idempotency keys: a generated `Idempotency-Key` that the server would accept is replaced by a fresh
  unique one, so two schema-valid requests never share a key by chance (hypothesis loves "0") and get
  a legitimate 422 IDEMPOTENCY_KEY_REUSED; an invalid generated key is left alone (negative tests).
- Cursors: the only valid cursor is one the server issued (`next_cursor`); a random string that merely
  matches the declared alphabet is dropped rather than sent as a schema-valid input the server must
  refuse (400 `cursor: is invalid`). Malformed cursors still go through (negative tests).
- Valid input accepted: schemathesis's `positive_data_acceptance`, except for the refusals listed in
  tests/contract/rules.py (rules JSON Schema cannot state, each written in its operation's description).
  The fuzzer runs with `--exclude-checks positive_data_acceptance` and this check in its place.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tests.contract.rules import documented

_KEY = re.compile(r"^[!-~]([ -~]*[!-~])?$")
_CURSOR = re.compile(r"^[A-Za-z0-9_-]+$")


@schemathesis.hook
def before_call(context: Any, case: Any, **kwargs: Any) -> None:
    headers = case.headers or {}
    key = headers.get("Idempotency-Key")
    if isinstance(key, str) and _KEY.match(key) and len(key) <= 255:
        headers["Idempotency-Key"] = f"fuzz-{uuid.uuid4().hex}"
        case.headers = headers
    query = case.query or {}
    cursor = query.get("cursor")
    if isinstance(cursor, str) and _CURSOR.match(cursor):
        del query["cursor"]
        case.query = query


@schemathesis.check
def positive_data_accepted_unless_documented(ctx: Any, response: Any, case: Any) -> bool | None:
    if response.status_code in (400, 422):
        try:
            body = response.json()
        except ValueError:
            body = None
        if documented(case.operation.label, response.status_code, body):
            return None
    result: bool | None = positive_data_acceptance(ctx, response, case)
    return result
