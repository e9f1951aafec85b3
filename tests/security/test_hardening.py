"""Item 8 (issue #17): production hardening.

Each test names what the probe found before the fix.
"""

from __future__ import annotations

import datetime
import inspect
import ssl
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from fastapi import FastAPI
from sqlalchemy import text

from packfinderz import cli
from packfinderz.app import create_app
from packfinderz.config import (
    DEV_ADS_TOKEN_SECRET,
    DEV_JWT_SECRET,
    DEV_STORAGE_SIGNING_SECRET,
    ConfigError,
    Settings,
    load_settings,
)
from packfinderz.kit.db import Database, _tls
from packfinderz.kit.http import client_ip
from packfinderz.kit.security import password_problem
from tests.fixtures.factories import register_body

PROD_SECRETS: dict[str, Any] = {
    "jwt_secret": "j" * 40,
    "ads_token_secret": "a" * 40,
    "storage_signing_secret": "s" * 40,
    "metrics_token": "m" * 40,
    "public_base_url": "https://api.example.com",
    "redis_url": "redis://localhost:6379/0",
    "db_dsn": "postgres://u@h/db",
    "billing_provider": "square",
    "square_access_token": "t",
    "square_location_id": "l",
    "square_webhook_signature_key": "k",
    "square_webhook_url": "https://api.example.com/api/v1/webhooks/square",
}


def _problems(**values: Any) -> list[str]:
    try:
        load_settings({"db", "app"}, **values)
    except ConfigError as exc:
        return exc.variables
    return []


# --- passwords --------------------------------------------------------------------------------------


@pytest.mark.parametrize("password", ["short pass", "password1234", "qwertyuiop12", "aaaaaaaaaaaaaaa"])
def test_weak_passwords_are_refused(password: str) -> None:
    """Before: any 8 characters passed."""
    assert password_problem(password) is not None


async def test_register_refuses_a_guessable_password(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/register", json=register_body(password="password1234"), headers={"Idempotency-Key": "p"}
    )
    assert response.status_code == 400
    assert "too easy to guess" in response.json()["error"]["details"]["password"]


# --- client IP --------------------------------------------------------------------------------------


def _scope(peer: str, forwarded: str | None) -> dict[str, Any]:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"client": (peer, 1234), "headers": headers}


def test_forwarded_for_counts_only_from_a_proxy() -> None:
    """Before: a client reaching the api directly chose its IP with X-Forwarded-For."""
    assert client_ip(_scope("203.0.113.9", "6.6.6.6"), 1) == "203.0.113.9"
    assert client_ip(_scope("10.1.2.3", "6.6.6.6, 198.51.100.7"), 1) == "198.51.100.7"
    assert client_ip(_scope("10.1.2.3", "6.6.6.6, 198.51.100.7, 10.0.0.5"), 2) == "198.51.100.7"
    # fewer entries than proxies: the request did not come through all of them
    assert client_ip(_scope("10.1.2.3", "6.6.6.6"), 2) == "10.1.2.3"
    assert client_ip(_scope("10.1.2.3", "6.6.6.6"), 0) == "10.1.2.3"


async def test_the_audit_log_keeps_the_real_peer(app: FastAPI, db: Database) -> None:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as direct:
        response = await direct.post(
            "/api/v1/auth/login",
            json={"email": "ghost@example.com", "password": "wrong password"},
            headers={"X-Forwarded-For": "6.6.6.6"},
        )
    assert response.status_code == 401
    async with db.transaction() as session:
        ip = await session.scalar(
            text(
                "SELECT payload->>'ip' FROM audit_logs"
                " WHERE action = 'auth.login_failed' ORDER BY created_at DESC"
            )
        )
    assert ip == "203.0.113.9"


# --- metrics, docs, headers ---------------------------------------------------------------------------


def test_prod_refuses_to_start_without_a_metrics_token() -> None:
    values = {**PROD_SECRETS, "app_env": "prod"}
    assert _problems(**values) == []
    values.pop("metrics_token")
    assert _problems(**values) == ["PACKFINDERZ_METRICS_TOKEN"]


def _prod_app(settings: Settings, **overrides: Any) -> FastAPI:
    prod = settings.model_copy(update={"app_env": "prod", "metrics_token": None, **overrides})
    return create_app(prod)


async def _get(app: FastAPI, path: str, **headers: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        return await http.get(path, headers=headers)


async def test_prod_metrics_and_docs_are_not_public(settings: Settings) -> None:
    app = _prod_app(settings)
    assert (await _get(app, "/metrics")).status_code == 401
    for path in ("/docs", "/redoc", "/openapi.json"):
        assert (await _get(app, path)).status_code == 404, path
    enabled = _prod_app(settings, api_docs_enabled=True)
    assert (await _get(enabled, "/openapi.json")).status_code == 200


async def test_security_headers_on_every_response(client: httpx.AsyncClient, settings: Settings) -> None:
    for response in (
        await client.get("/health/live"),
        await client.get("/api/v1/stores/me"),  # an error
        await client.get("/no/such/route"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert "strict-transport-security" not in response.headers
    prod = await _get(_prod_app(settings), "/health/live")
    assert prod.headers["strict-transport-security"].startswith("max-age=31536000")


# --- database TLS ------------------------------------------------------------------------------------


def test_prod_postgres_from_parts_uses_tls(tmp_path: Path) -> None:
    """Before: DB_SSLMODE defaulted to disable, in prod too."""
    parts: dict[str, Any] = {"db_host": "db.internal", "db_user": "pf", "db_name": "pf", "db_dsn": None}
    prod = Settings(**{**PROD_SECRETS, **parts, "app_env": "prod"})
    assert prod.database_url is not None
    assert prod.database_url.endswith("?ssl=require")
    ca = tmp_path / "ca.pem"
    ca.write_text(_self_signed_ca())
    verified = Settings(**{**PROD_SECRETS, **parts, "app_env": "prod", "db_sslrootcert": str(ca)})
    assert verified.database_url is not None
    assert verified.database_url.endswith("?ssl=verify-full")
    context = _tls(verified)["ssl"]
    assert context.check_hostname is True
    assert context.verify_mode == ssl.CERT_REQUIRED
    dev = Settings(**{**parts, "app_env": "dev"})
    assert dev.database_url is not None
    assert "ssl=" not in dev.database_url
    assert "PACKFINDERZ_DB_SSLMODE" in _problems(
        **{**PROD_SECRETS, **parts, "app_env": "prod", "db_sslmode": "disable"}
    )


def _self_signed_ca() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test ca")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


# --- dev binding and published secrets ---------------------------------------------------------------


def test_dev_binds_loopback_unless_told() -> None:
    """Before: the api bound 0.0.0.0 under `packfinderz dev`."""
    assert inspect.signature(cli.dev).parameters["host"].default == "127.0.0.1"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_only_tests_may_sign_with_the_published_secrets(env: str) -> None:
    published = {
        "jwt_secret": DEV_JWT_SECRET,
        "ads_token_secret": DEV_ADS_TOKEN_SECRET,
        "storage_signing_secret": DEV_STORAGE_SIGNING_SECRET,
    }
    found = _problems(**{**PROD_SECRETS, **published, "app_env": env})
    assert set(found) >= {
        "PACKFINDERZ_JWT_SECRET",
        "PACKFINDERZ_ADS_TOKEN_SECRET",
        "PACKFINDERZ_STORAGE_SIGNING_SECRET",
    }
    assert _problems(**{**PROD_SECRETS, **published, "app_env": "test"}) == []
    if env == "dev":  # dev without secrets is refused too: `packfinderz dev` makes its own
        bare = {k: v for k, v in PROD_SECRETS.items() if k not in published}
        assert "PACKFINDERZ_JWT_SECRET" in _problems(**{**bare, "app_env": "dev"})


def test_packfinderz_dev_makes_and_keeps_its_own_secrets(tmp_path: Path) -> None:
    first = cli._dev_secrets(tmp_path)
    assert set(first) == set(cli.DEV_SECRET_VARIABLES)
    assert DEV_JWT_SECRET not in first.values()
    assert all(len(v) >= 32 for v in first.values())
    assert cli._dev_secrets(tmp_path) == first  # kept across restarts
    assert (tmp_path / "secrets.env").stat().st_mode & 0o777 == 0o600
