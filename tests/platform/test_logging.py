"""Log lines: JSON shape, and the redaction processor keeping secrets out of every line."""

from __future__ import annotations

import logging
import re

from packfinderz.kit.logging import REDACTED, get_logger
from tests.fixtures.logs import LogCapture

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJlLXZhbHVl"
SECRETS = {
    "password": "Hunter2-pass",
    "refresh_token": "rt-9f8e7d6c",
    "jwt_secret": "jwt-secret-abcdef",
    "bearer": "opaque-bearer-77aa",
    "signature": "sig-0a1b2c3d",
    "goog": "GOOG4-RSA-SIGNATURE-ffee",
    "dsn": "db-pass-31337",
}


def test_lines_are_json_with_the_standard_fields(logs: LogCapture) -> None:
    get_logger("test").info("thing.happened", order_id="o-1")
    [line] = logs.events("thing.happened")
    assert line["level"] == "info"
    assert (line["service"], line["env"], line["instance"]) == ("test", "test", "test")
    assert line["order_id"] == "o-1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", line["timestamp"])


def test_secrets_never_reach_a_log_line(logs: LogCapture) -> None:
    log = get_logger("test")
    log.info(
        "user.login",
        password=SECRETS["password"],
        new_password=SECRETS["password"],
        refresh_token=SECRETS["refresh_token"],
        jwt_secret=SECRETS["jwt_secret"],
        note=f"token was {JWT}",
        headers={"Authorization": f"Bearer {SECRETS['bearer']}", "Accept": "application/json"},
        message=f"sent Bearer {SECRETS['bearer']} upstream",
        url=f"https://api.example/storage/v1/objects/k.pdf?expires=1700000000&sig={SECRETS['signature']}",
        gcs=f"https://storage.googleapis.com/b/k?X-Goog-Algorithm=GOOG4&X-Goog-Signature={SECRETS['goog']}",
        database=f"postgresql://app:{SECRETS['dsn']}@db.internal:5432/pf",
        nested={"items": [{"token": SECRETS["refresh_token"]}, {"dsn": f"redis://:{SECRETS['dsn']}@r:6379"}]},
    )
    for value in SECRETS.values():
        assert value not in logs.text
    assert JWT not in logs.text
    [line] = logs.events("user.login")
    assert line["password"] == line["refresh_token"] == line["jwt_secret"] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED, "Accept": "application/json"}
    assert line["note"] == f"token was {REDACTED}"
    assert line["message"] == f"sent Bearer {REDACTED} upstream"
    assert line["url"] == f"https://api.example/storage/v1/objects/k.pdf?expires={REDACTED}&sig={REDACTED}"
    assert line["database"] == f"postgresql://app:{REDACTED}@db.internal:5432/pf"
    assert line["nested"]["items"][0]["token"] == REDACTED


def test_library_log_records_are_redacted_too(logs: LogCapture) -> None:
    logging.getLogger("alembic.runtime").warning("connecting to postgresql://app:%s@db/pf", SECRETS["dsn"])
    assert SECRETS["dsn"] not in logs.text
    [line] = [e for e in logs.events() if "connecting to" in e["event"]]
    assert line["event"] == f"connecting to postgresql://app:{REDACTED}@db/pf"
    assert line["level"] == "warning"


def test_exception_messages_and_stacks_are_redacted(logs: LogCapture) -> None:
    def connect(secret_local: str) -> None:
        raise ConnectionError(
            f"auth failed for password={SECRETS['password']} token={SECRETS['refresh_token']}"
        )

    try:
        connect(SECRETS["jwt_secret"])
    except ConnectionError as exc:
        get_logger("test").error("db.connect_failed", exc_info=exc)
    for value in SECRETS.values():
        assert value not in logs.text  # neither the message nor the frame's locals
    [line] = logs.events("db.connect_failed")
    assert line["exception"][0]["exc_type"] == "ConnectionError"
    assert [frame["name"] for frame in line["exception"][0]["frames"]][-1] == "connect"
