"""Google Cloud Storage adapter: V4 signed URLs; private kinds in GCS_BUCKET_NAME, public ones in the
public-read GCS_PUBLIC_BUCKET_NAME.

google-cloud-storage is synchronous, so every call runs in a thread. Imported only when
STORAGE_ADAPTER=gcs (the `gcp` extra).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import quote

import google.auth
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.api_core import exceptions as google_exceptions
from google.auth import crypt
from google.auth.credentials import AnonymousCredentials, Credentials
from google.cloud import storage as gcs
from google.cloud.storage.retry import DEFAULT_RETRY
from google.oauth2 import service_account

from packfinderz.config import Settings
from packfinderz.kit.storage.base import (
    ObjectInfo,
    ObjectNotFound,
    SignedRequest,
    StorageUnavailable,
    parse_key,
)

T = TypeVar("T")
CALL_TIMEOUT_SECONDS = 10.0
# The library retries transient errors for up to 120 s; a request should fail (503) well before that.
RETRY = DEFAULT_RETRY.with_timeout(30.0)
PUBLIC_ENDPOINT = "https://storage.googleapis.com"


class GcsStorage:
    """The `gcs` adapter (also runs against gcp-storage-emulator through STORAGE_EMULATOR_HOST)."""

    name = "gcs"

    def __init__(
        self, client: Any, signer: Credentials, private_bucket: str, public_bucket: str, public_endpoint: str
    ) -> None:
        self._client = client
        self._signer = signer
        self.private_bucket = private_bucket
        self.public_bucket = public_bucket
        self._public_endpoint = public_endpoint.rstrip("/")

    @classmethod
    def from_settings(cls, settings: Settings) -> GcsStorage:
        """Client and signing credentials from GCP_CREDENTIALS_JSON, a key file, ADC, or the emulator."""
        # both required with STORAGE_ADAPTER=gcs (validated by load_settings)
        assert settings.gcs_bucket_name
        assert settings.gcs_public_bucket_name
        explicit = _explicit_credentials(settings)
        emulator = settings.storage_emulator_host
        if emulator:
            # The emulator takes anonymous calls and never checks signatures, so any key can sign.
            client = gcs.Client(
                project=settings.gcp_project_id or "emulator",
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options={"api_endpoint": emulator},
            )
            signer = explicit or _throwaway_signer()
            public_endpoint = emulator
        else:
            credentials = explicit or google.auth.default()[0]
            client = gcs.Client(project=settings.gcp_project_id, credentials=credentials)
            signer = credentials
            public_endpoint = PUBLIC_ENDPOINT
        return cls(client, signer, settings.gcs_bucket_name, settings.gcs_public_bucket_name, public_endpoint)

    def bucket_name(self, key: str) -> str:
        """The bucket an object lives in: the public-read one for public kinds."""
        return self.public_bucket if parse_key(key).is_public else self.private_bucket

    def _blob(self, key: str) -> Any:
        return self._client.bucket(self.bucket_name(key)).blob(key)

    async def presign_put(self, key: str, content_type: str, max_bytes: int, expires: float) -> SignedRequest:
        """V4 signed PUT binding Content-Type and x-goog-content-length-range 0..max_bytes."""
        headers = {"Content-Type": content_type, "x-goog-content-length-range": f"0,{max_bytes}"}
        url = await _call(
            self._blob(key).generate_signed_url,
            version="v4",
            expiration=timedelta(seconds=expires),
            method="PUT",
            content_type=content_type,
            headers={"x-goog-content-length-range": headers["x-goog-content-length-range"]},
            credentials=self._signer,
        )
        return SignedRequest(url, "PUT", _expires_at(expires), headers)

    async def presign_get(self, key: str, expires: float) -> SignedRequest:
        """V4 signed GET."""
        url = await _call(
            self._blob(key).generate_signed_url,
            version="v4",
            expiration=timedelta(seconds=expires),
            method="GET",
            credentials=self._signer,
        )
        return SignedRequest(url, "GET", _expires_at(expires))

    def public_url(self, key: str) -> str:
        """`https://storage.googleapis.com/<public bucket>/<percent-encoded key>`."""
        return f"{self._public_endpoint}/{self.bucket_name(key)}/{quote(key, safe='/')}"

    async def put(self, key: str, data: bytes, content_type: str) -> None:
        """Upload an object in one request."""
        await _call(
            self._blob(key).upload_from_string,
            data,
            content_type=content_type,
            timeout=CALL_TIMEOUT_SECONDS,
            retry=RETRY,
        )

    async def get(self, key: str) -> tuple[bytes, str]:
        """Download an object; its content type comes from the download's response headers."""
        blob = self._blob(key)
        data: bytes = await _call(blob.download_as_bytes, timeout=CALL_TIMEOUT_SECONDS, retry=RETRY)
        return data, blob.content_type or "application/octet-stream"

    async def head(self, key: str) -> ObjectInfo | None:
        """Object metadata, or None when missing."""
        bucket = self._client.bucket(self.bucket_name(key))
        blob = await _call(bucket.get_blob, key, timeout=CALL_TIMEOUT_SECONDS, retry=RETRY)
        if blob is None:
            return None
        return ObjectInfo(size=int(blob.size or 0), content_type=blob.content_type or "")

    async def delete(self, key: str) -> None:
        """Delete an object; missing is fine."""
        try:
            await _call(self._blob(key).delete, timeout=CALL_TIMEOUT_SECONDS, retry=RETRY)
        except ObjectNotFound:
            return

    async def probe(self) -> dict[str, Any]:
        """Read both buckets' metadata."""
        for name in (self.private_bucket, self.public_bucket):
            try:
                await _call(self._client.get_bucket, name, timeout=CALL_TIMEOUT_SECONDS, retry=RETRY)
            except ObjectNotFound:
                raise LookupError(f"bucket {name} not found") from None
        return {"adapter": self.name}


async def _call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run a blocking client call in a thread: missing objects raise ObjectNotFound, failures a 503."""
    try:
        return await asyncio.to_thread(fn, *args, **kwargs)
    except google_exceptions.NotFound as exc:
        raise ObjectNotFound() from exc
    except Exception as exc:
        raise StorageUnavailable() from exc


def _expires_at(expires: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=expires)).replace(microsecond=0)


def _explicit_credentials(settings: Settings) -> Credentials | None:
    """Service-account credentials from GCP_CREDENTIALS_JSON, else the key file, else None (ADC)."""
    scopes = ["https://www.googleapis.com/auth/devstorage.read_write"]
    if settings.gcp_credentials_json is not None:
        info = json.loads(settings.gcp_credentials_json.get_secret_value())
        return service_account.Credentials.from_service_account_info(info, scopes=scopes)  # type: ignore[no-untyped-call,no-any-return]
    if settings.google_application_credentials:
        return service_account.Credentials.from_service_account_file(  # type: ignore[no-untyped-call,no-any-return]
            settings.google_application_credentials, scopes=scopes
        )
    return None


def _throwaway_signer() -> Credentials:
    """A service account with a fresh RSA key, for URLs the emulator accepts without verification."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    signer = crypt.RSASigner.from_string(pem)  # type: ignore[no-untyped-call]
    return service_account.Credentials(  # type: ignore[no-untyped-call]
        signer, "emulator@packfinderz.invalid", "https://oauth2.googleapis.com/token"
    )
