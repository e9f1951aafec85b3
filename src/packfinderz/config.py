"""Configuration: one Settings object read from the environment (platform.md §5)."""

from __future__ import annotations

import hmac
import os
import re
import socket
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import AliasChoices, BeforeValidator, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "PACKFINDERZ_"
AppEnv = Literal["dev", "test", "prod"]

# Fixed development secrets: usable outside prod only, and a warning is logged when they are in use.
DEV_JWT_SECRET = "packfinderz-dev-jwt-secret-not-for-production-use!"  # noqa: S105 - dev/test only, refused in prod
DEV_STORAGE_SIGNING_SECRET = "packfinderz-dev-storage-signing-secret-not-for-prod"  # noqa: S105
DEV_ADS_TOKEN_SECRET = "packfinderz-dev-ads-token-secret-not-for-production"  # noqa: S105

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Any) -> float:
    """Parse integer seconds or `<n><ms|s|m|h|d>` into seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        raise ValueError("must be a duration such as 30, 500ms, 15m, 24h or 7d")
    match = _DURATION_RE.match(value)
    if not match:
        raise ValueError("must be a duration such as 30, 500ms, 15m, 24h or 7d")
    unit = match.group(2).lower() if match.group(2) else None
    return float(match.group(1)) * _DURATION_UNITS[unit]


def parse_bool(value: Any) -> bool:
    """Accept only true|false|1|0 in any case; anything else is a configuration error."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError("must be one of: true, false, 1, 0")


def _lower(value: Any) -> Any:
    return value.strip().lower() if isinstance(value, str) else value


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Duration = Annotated[float, BeforeValidator(parse_duration)]
Bool = Annotated[bool, BeforeValidator(parse_bool)]
LowerEnv = Annotated[AppEnv | None, BeforeValidator(lambda v: _lower(_blank_to_none(v)))]
OptStr = Annotated[str | None, BeforeValidator(_blank_to_none)]
OptSecret = Annotated[SecretStr | None, BeforeValidator(_blank_to_none)]
OptInt = Annotated[int | None, BeforeValidator(_blank_to_none)]


def _env(name: str, *fallbacks: str) -> AliasChoices:
    """Aliases: the prefixed name first (unless the variable is a bare platform one), then fallbacks."""
    return AliasChoices(name, *fallbacks)


class ConfigError(Exception):
    """Raised when required configuration is missing or invalid; names variables, never values."""

    def __init__(self, variables: list[str], problems: list[str]) -> None:
        self.variables = variables
        self.problems = problems
        super().__init__("invalid configuration: " + "; ".join(problems))


class Settings(BaseSettings):
    """Every PackFinderz setting, with its default and a one-line description."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_file=".env",
        extra="ignore",
        populate_by_name=True,
        case_sensitive=False,
    )

    # --- App ---
    app_env: LowerEnv = Field(None, description="Environment: dev, test or prod (required).")
    app_port: int = Field(
        8080,
        validation_alias=_env("PORT", "PACKFINDERZ_APP_PORT"),
        description="HTTP port of the api; PORT wins when both are set.",
    )
    web_concurrency: int = Field(
        2, validation_alias=_env("WEB_CONCURRENCY"), description="Number of api worker processes."
    )
    shutdown_drain_seconds: Duration = Field(
        5.0,
        description="After SIGTERM the api serves this long with readiness 503 before it stops accepting.",
    )
    dyno: str = Field(
        default_factory=socket.gethostname,
        validation_alias=_env("DYNO"),
        description="Instance name used in logs and heartbeats (default: hostname).",
    )
    prometheus_multiproc_dir: str = Field(
        "/tmp/prom",  # noqa: S108 - the standard location; emptied by bin/api
        validation_alias=_env("PROMETHEUS_MULTIPROC_DIR"),
        description="Directory for multi-process Prometheus metrics (api with WEB_CONCURRENCY > 1).",
    )
    public_base_url: OptStr = Field(
        None, description="Base URL of the api for local signed URLs (default http://localhost:<port>)."
    )
    cors_allowed_origins: OptStr = Field(
        None, description="Comma list of allowed CORS origins (dev default http://localhost:3000)."
    )
    auto_migrate: Bool = Field(False, description="Run pending migrations at startup (dev only).")
    feature_allow_ach: Bool = Field(False, description="Allow payment_method=ach at checkout.")
    log_level: Annotated[str, BeforeValidator(_lower)] = Field(
        "info", description="Log level: debug, info, warning, error."
    )
    log_format: Annotated[Literal["json", "console"], BeforeValidator(_lower)] = Field(
        "json", description="Log format: json or console."
    )
    log_warn_stack: Bool = Field(False, description="Include stack traces on warning lines.")
    metrics_token: OptSecret = Field(
        None, description="When set, /metrics requires this Bearer token; required in prod."
    )
    api_docs_enabled: Annotated[bool | None, BeforeValidator(_blank_to_none)] = Field(
        None, description="Serve /docs, /redoc and /openapi.json (default: on outside prod, off in prod)."
    )
    max_request_body_bytes: int = Field(
        1048576, description="Largest request body the api reads (413 beyond; signed uploads excepted)."
    )
    max_json_depth: int = Field(
        32, description="Deepest JSON nesting accepted in a request body (400 beyond)."
    )
    hsts_max_age: Duration = Field(
        31536000.0, description="Strict-Transport-Security max-age sent in prod (0 turns HSTS off)."
    )
    embedded_dir: str = Field(
        "./.packfinderz", description="Data folder of the embedded Postgres and Redis used by `dev`."
    )

    # --- Database ---
    db_dsn: OptSecret = Field(
        None,
        validation_alias=_env("PACKFINDERZ_DB_DSN", "DATABASE_URL"),
        description="Postgres URL; DATABASE_URL is the fallback; postgres:// accepted.",
    )
    db_host: OptStr = Field(None, description="Postgres host, used when no URL is set.")
    db_port: int = Field(5432, description="Postgres port, used when no URL is set.")
    db_user: OptStr = Field(None, description="Postgres user, used when no URL is set.")
    db_password: OptSecret = Field(None, description="Postgres password, used when no URL is set.")
    db_name: OptStr = Field(None, description="Postgres database, used when no URL is set.")
    db_sslmode: OptStr = Field(
        None,
        description="Postgres sslmode from the DB_* parts (default: require in prod, verify-full with a CA;"
        " else disable).",
    )
    db_sslrootcert: OptStr = Field(
        None, description="CA bundle (file) that verifies the Postgres server; implies sslmode verify-full."
    )
    db_pool_size: int = Field(10, description="Connection pool size per process.")
    db_max_overflow: int = Field(5, description="Connections allowed beyond the pool size.")
    db_pool_recycle: Duration = Field(1800.0, description="Recycle pooled connections after this long.")
    db_pool_timeout: Duration = Field(10.0, description="Wait at most this long for a pooled connection.")
    db_statement_timeout: Duration = Field(30.0, description="statement_timeout of app sessions.")

    # --- Redis ---
    redis_url: OptSecret = Field(
        None,
        validation_alias=_env("PACKFINDERZ_REDIS_URL", "REDIS_URL"),
        description="Redis URL; REDIS_URL is the fallback.",
    )
    redis_addr: OptStr = Field(
        None, description="host:port of Redis when no URL is set (dev/test default localhost:6379)."
    )
    redis_password: OptSecret = Field(None, description="Redis password when no URL is set.")
    redis_db: int = Field(0, description="Redis database number when no URL is set.")
    redis_max_connections: int = Field(50, description="Redis connection pool size.")
    redis_connect_timeout: Duration = Field(5.0, description="Redis connect timeout.")
    redis_socket_timeout: Duration = Field(5.0, description="Redis socket timeout.")
    redis_tls_verify: Bool = Field(True, description="Verify Redis TLS certificates (false on Heroku Redis).")

    # --- Auth ---
    jwt_secret: OptSecret = Field(
        None, description="HMAC secret for access tokens; required in prod (>= 32 bytes)."
    )
    jwt_issuer: str = Field("packfinderz", description="Issuer claim of access tokens.")
    jwt_expiration_minutes: int = Field(15, description="Access token lifetime in minutes.")
    refresh_token_ttl_minutes: int = Field(43200, description="Refresh token lifetime in minutes.")
    argon_memory_kb: int = Field(65536, description="Argon2id memory cost in KiB.")
    argon_time: int = Field(3, description="Argon2id iterations.")
    argon_parallelism: int = Field(2, description="Argon2id lanes.")
    argon_salt_len: int = Field(16, description="Argon2id salt length in bytes.")
    argon_key_len: int = Field(32, description="Argon2id hash length in bytes.")
    auth_rate_limit_login_window: Duration = Field(60.0, description="Login rate-limit window.")
    auth_rate_limit_login_email_limit: int = Field(5, description="Login attempts per email per window.")
    auth_rate_limit_login_ip_limit: int = Field(20, description="Login attempts per IP per window.")
    auth_rate_limit_register_window: Duration = Field(300.0, description="Register rate-limit window.")
    auth_rate_limit_register_email_limit: int = Field(3, description="Registrations per email per window.")
    auth_rate_limit_register_ip_limit: int = Field(20, description="Registrations per IP per window.")
    trusted_proxy_hops: int = Field(1, description="Client IP = n-th X-Forwarded-For entry from the right.")
    trusted_proxy_networks: str = Field(
        "127.0.0.0/8,::1/128,10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10,fc00::/7",
        description="Comma list of CIDRs whose connections may set X-Forwarded-For (a proxy's address).",
    )
    console_idle_timeout: Duration = Field(
        1800.0, description="Operator console: sign out after this long without a request."
    )
    idempotency_ttl: Duration = Field(86400.0, description="Idempotency record lifetime (default routes).")
    idempotency_critical_ttl: Duration = Field(
        604800.0, description="Idempotency record lifetime for checkout, order, delivery, payment."
    )
    idempotency_in_progress_ttl: Duration = Field(60.0, description="Lifetime of an in-progress record.")

    # --- Events / outbox ---
    events_transport: Annotated[Literal["redis", "pubsub", "memory"], BeforeValidator(_lower)] = Field(
        "redis", description="Event transport: redis or pubsub (memory only when APP_ENV=test)."
    )
    events_redis_url: OptSecret = Field(None, description="Separate Redis for event streams (default main).")
    events_stream_maxlen: int = Field(100000, description="Approximate MAXLEN of each event stream.")
    events_redelivery_idle: Duration = Field(60.0, description="Redeliver stream entries idle this long.")
    events_max_deliveries: int = Field(10, description="Deliveries before a message is dead-lettered.")
    eventing_idempotency_ttl: Duration = Field(2592000.0, description="Consumer dedupe record lifetime.")
    consumer_concurrency: int = Field(8, description="Messages in flight per consumer.")
    consumers_enabled: OptStr = Field(None, description="Comma list of consumers to run (default all).")
    outbox_publish_batch_size: int = Field(50, description="Rows claimed per relay batch.")
    outbox_publish_poll_ms: int = Field(500, description="Relay poll interval when idle, in ms.")
    outbox_max_attempts: int = Field(10, description="Publish attempts before an event is dead-lettered.")
    outbox_backoff_base: Duration = Field(2.0, description="First publish retry delay.")
    outbox_backoff_max: Duration = Field(300.0, description="Longest publish retry delay.")
    outbox_claim_lease: Duration = Field(60.0, description="How long a claimed row stays hidden.")
    outbox_retention: Duration = Field(2592000.0, description="Keep published outbox rows this long.")
    outbox_dlq_retention: Duration = Field(15552000.0, description="Keep dead-lettered rows this long.")

    # --- Google Cloud ---
    gcp_project_id: OptStr = Field(None, description="Google Cloud project (pubsub, gcs, bigquery).")
    gcp_credentials_json: OptSecret = Field(None, description="Inline service-account JSON.")
    google_application_credentials: OptStr = Field(
        None,
        validation_alias=_env("PACKFINDERZ_GOOGLE_APPLICATION_CREDENTIALS", "GOOGLE_APPLICATION_CREDENTIALS"),
        description="Service-account key file (falls back to ADC).",
    )
    pubsub_topic_prefix: str = Field("pf-", description="Prefix of Pub/Sub topic ids.")
    pubsub_auto_create: Annotated[bool | None, BeforeValidator(_blank_to_none)] = Field(
        None, description="Create missing topics/subscriptions (default true in dev or with the emulator)."
    )
    pubsub_emulator_host: OptStr = Field(
        None, validation_alias=_env("PUBSUB_EMULATOR_HOST"), description="Pub/Sub emulator host:port."
    )

    # --- Storage ---
    storage_adapter: Annotated[Literal["local", "gcs"], BeforeValidator(_lower)] = Field(
        "local", description="Object storage: local or gcs."
    )
    storage_local_dir: str = Field("./var/storage", description="Folder of the local storage adapter.")
    storage_signing_secret: OptSecret = Field(
        None, description="HMAC secret of local signed URLs; required in prod with local (>= 32 bytes)."
    )
    max_upload_mb: int = Field(20, description="Largest upload accepted by presign, in MB.")
    storage_upload_url_expiry: Duration = Field(900.0, description="Signed upload URL lifetime.")
    storage_download_url_expiry: Duration = Field(3600.0, description="Signed download URL lifetime.")
    gcs_bucket_name: OptStr = Field(None, description="GCS bucket of private media kinds.")
    gcs_public_bucket_name: OptStr = Field(None, description="Public-read GCS bucket of public kinds.")
    gcs_notification_subscription: OptStr = Field(None, description="Pub/Sub subscription of GCS events.")
    storage_emulator_host: OptStr = Field(
        None,
        validation_alias=_env("STORAGE_EMULATOR_HOST"),
        description="GCS emulator URL (e.g. http://localhost:9023); anonymous calls, no credentials needed.",
    )

    # --- Warehouse / analytics ---
    warehouse_adapter: Annotated[Literal["postgres", "bigquery"], BeforeValidator(_lower)] = Field(
        "postgres", description="Analytics warehouse: postgres or bigquery."
    )
    warehouse_pg_schema: str = Field("analytics", description="Postgres schema of the warehouse.")
    bigquery_dataset: str = Field("packfinderz", description="BigQuery dataset.")
    bigquery_marketplace_table: str = Field("marketplace_events", description="BigQuery marketplace table.")
    bigquery_ad_table: str = Field("ad_events", description="BigQuery ad events table.")
    bigquery_api_endpoint: OptStr = Field(
        None, description="BigQuery API base URL override (tests point it at a fake server)."
    )
    analytics_tz: str = Field("America/Chicago", description="Time zone of analytics buckets.")

    # --- Billing ---
    billing_provider: Annotated[Literal["sandbox", "square"] | None, BeforeValidator(_blank_to_none)] = Field(
        None, description="Billing provider: sandbox (dev/test default) or square (prod default)."
    )
    square_env: Literal["sandbox", "production"] = Field("sandbox", description="Square environment.")
    square_base_url: OptStr = Field(
        None,
        description="Override of the Square API base URL (staging, tests' fake server); unset: SQUARE_ENV's.",
    )
    square_access_token: OptSecret = Field(None, description="Square access token.")
    square_location_id: OptStr = Field(None, description="Square location id.")
    square_webhook_signature_key: OptSecret = Field(None, description="Square webhook signature key.")
    square_webhook_url: OptStr = Field(None, description="Webhook URL exactly as registered with Square.")
    square_subscription_plan_id: OptStr = Field(None, description="Fallback Square plan variation id.")
    billing_past_due_grace_days: int = Field(7, description="Days a past-due subscription stays active.")

    # --- Maps / ads / worker ---
    maps_provider: Literal["none", "google"] = Field("none", description="Address lookup: none or google.")
    google_maps_api_key: OptSecret = Field(None, description="Google Maps key (maps provider google).")
    google_places_base_url: str = Field(
        "https://places.googleapis.com/v1",
        description="Places API (New) base URL (tests point it at a fake).",
    )
    maps_timeout: Duration = Field(10.0, description="Timeout of one Places API call.")
    ads_token_secret: OptSecret = Field(None, description="HMAC secret of ad tokens; required in prod.")
    ads_token_ttl_days: int = Field(30, description="Lifetime of ad attribution tokens in days.")
    worker_roles: str = Field("consumers,relay,cron", description="Comma list of worker roles to run.")
    worker_heartbeat_seconds: Duration = Field(30.0, description="Worker heartbeat interval.")
    worker_metrics_port: OptInt = Field(None, description="Serve /health/live and /metrics on this port.")
    cron_disabled_jobs: str = Field("", description="Comma list of cron jobs to skip.")

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        if self.pubsub_auto_create is None:
            # issue #4: created at startup in dev and with the emulator, only verified elsewhere
            self.pubsub_auto_create = self.pubsub_emulator_host is not None or self.app_env == "dev"
        return self

    # --- derived values -------------------------------------------------------------------------

    @property
    def env(self) -> AppEnv:
        """The environment; `dev` only for code paths that run before validation (CLI help)."""
        return self.app_env or "dev"

    @property
    def is_prod(self) -> bool:
        return self.app_env == "prod"

    @property
    def instance(self) -> str:
        return self.dyno

    @property
    def effective_public_base_url(self) -> str:
        return (self.public_base_url or f"http://localhost:{self.app_port}").rstrip("/")

    @property
    def cors_origins(self) -> list[str]:
        if self.cors_allowed_origins is None:
            return ["http://localhost:3000"] if self.env == "dev" else []
        return _split(self.cors_allowed_origins)

    @property
    def effective_billing_provider(self) -> str:
        return self.billing_provider or ("square" if self.is_prod else "sandbox")

    @property
    def effective_jwt_secret(self) -> str:
        return _secret(self.jwt_secret) or DEV_JWT_SECRET

    @property
    def effective_storage_signing_secret(self) -> str:
        return _secret(self.storage_signing_secret) or DEV_STORAGE_SIGNING_SECRET

    @property
    def effective_ads_token_secret(self) -> str:
        return _secret(self.ads_token_secret) or DEV_ADS_TOKEN_SECRET

    @property
    def effective_db_sslmode(self) -> str:
        """sslmode of a URL built from the DB_* parts: TLS in prod, verify-full when a CA is set."""
        if self.db_sslmode:
            return self.db_sslmode.strip().lower()
        if self.db_sslrootcert:
            return "verify-full"
        return "require" if self.is_prod else "disable"

    @property
    def docs_enabled(self) -> bool:
        """Whether /docs, /redoc and /openapi.json are served (off in prod unless API_DOCS_ENABLED)."""
        return self.api_docs_enabled if self.api_docs_enabled is not None else not self.is_prod

    @property
    def proxy_networks(self) -> list[IPv4Network | IPv6Network]:
        """The networks a trusted proxy connects from (TRUSTED_PROXY_NETWORKS)."""
        return [ip_network(part, strict=False) for part in _split(self.trusted_proxy_networks)]

    @property
    def worker_role_list(self) -> list[str]:
        return _split(self.worker_roles)

    @property
    def disabled_cron_jobs(self) -> set[str]:
        return set(_split(self.cron_disabled_jobs))

    @property
    def enabled_consumers(self) -> set[str] | None:
        return None if self.consumers_enabled is None else set(_split(self.consumers_enabled))

    @cached_property
    def database_url(self) -> str | None:
        """SQLAlchemy asyncpg URL built from DB_DSN/DATABASE_URL or the DB_* parts."""
        raw = _secret(self.db_dsn)
        if raw is None:
            if not (self.db_host and self.db_user and self.db_name):
                return None
            password = _secret(self.db_password)
            auth = quote(self.db_user, safe="") + (f":{quote(password, safe='')}" if password else "")
            raw = f"postgresql://{auth}@{self.db_host}:{self.db_port}/{self.db_name}"
            if self.effective_db_sslmode != "disable":
                raw += f"?sslmode={self.effective_db_sslmode}"
        elif self.is_prod and "sslmode=" not in raw and "ssl=" not in raw and "host=/" not in raw:
            raw += ("&" if "?" in raw else "?") + "sslmode=require"
        return to_asyncpg_url(raw)

    @cached_property
    def redis_connection_url(self) -> str | None:
        """Redis URL from REDIS_URL or REDIS_ADDR (dev/test default localhost:6379)."""
        url = _secret(self.redis_url)
        if url:
            return url
        addr = self.redis_addr or (None if self.is_prod else "localhost:6379")
        if addr is None:
            return None
        password = _secret(self.redis_password)
        auth = f":{quote(password, safe='')}@" if password else ""
        return f"redis://{auth}{addr}/{self.redis_db}"

    # --- validation by group ----------------------------------------------------------------------

    def problems(self, groups: set[str]) -> tuple[list[str], list[str]]:
        """(variables, messages) of everything missing or invalid for the given config groups."""
        variables: list[str] = []
        messages: list[str] = []

        def flag(var: str, message: str) -> None:
            variables.append(var)
            messages.append(f"{var} {message}")

        if "db" in groups:
            try:
                if self.database_url is None:
                    flag("PACKFINDERZ_DB_DSN", "is required (or DATABASE_URL, or DB_HOST/DB_USER/DB_NAME)")
            except ValueError:
                flag(_variable_for("db_dsn"), "must be a postgres:// or postgresql:// URL")
        if "app" not in groups:
            return variables, messages
        if self.app_env is None:
            flag("PACKFINDERZ_APP_ENV", "is required (dev, test or prod)")
        if self.events_transport == "memory" and self.app_env != "test":
            flag("PACKFINDERZ_EVENTS_TRANSPORT", "may be memory only when APP_ENV=test")
        if self.refresh_token_ttl_minutes <= self.jwt_expiration_minutes:
            flag("PACKFINDERZ_REFRESH_TOKEN_TTL_MINUTES", "must exceed JWT_EXPIRATION_MINUTES")
        if self.ads_token_ttl_days <= 0:
            flag("PACKFINDERZ_ADS_TOKEN_TTL_DAYS", "must be > 0")
        try:
            self.proxy_networks  # noqa: B018 - validates the list
        except ValueError:
            flag("PACKFINDERZ_TRUSTED_PROXY_NETWORKS", "must be a comma list of CIDR networks")
        if self.max_request_body_bytes < 1024:
            flag("PACKFINDERZ_MAX_REQUEST_BODY_BYTES", "must be at least 1024")
        if self.max_json_depth < 2:
            flag("PACKFINDERZ_MAX_JSON_DEPTH", "must be at least 2")
        if self.app_env is not None and self.app_env != "test":
            # The development secrets are published in this repository: only tests may sign with them.
            published = {
                "PACKFINDERZ_JWT_SECRET": (self.jwt_secret, DEV_JWT_SECRET),
                "PACKFINDERZ_ADS_TOKEN_SECRET": (self.ads_token_secret, DEV_ADS_TOKEN_SECRET),
                "PACKFINDERZ_STORAGE_SIGNING_SECRET": (
                    self.storage_signing_secret,
                    DEV_STORAGE_SIGNING_SECRET,
                ),
            }
            if self.storage_adapter != "local":
                del published["PACKFINDERZ_STORAGE_SIGNING_SECRET"]
            for var, (secret, dev_value) in published.items():
                value = _secret(secret)
                if value is None and not self.is_prod:
                    flag(var, "is required outside APP_ENV=test (`packfinderz dev` generates one)")
                elif value is not None and hmac.compare_digest(value.encode(), dev_value.encode()):
                    flag(var, "may not be the published development secret outside APP_ENV=test")
        if self.events_transport == "pubsub" and not self.gcp_project_id:
            flag("PACKFINDERZ_GCP_PROJECT_ID", "is required with EVENTS_TRANSPORT=pubsub")
        if self.storage_adapter == "gcs":
            for var, value in (
                ("PACKFINDERZ_GCP_PROJECT_ID", self.gcp_project_id),
                ("PACKFINDERZ_GCS_BUCKET_NAME", self.gcs_bucket_name),
                ("PACKFINDERZ_GCS_PUBLIC_BUCKET_NAME", self.gcs_public_bucket_name),
            ):
                if not value and var not in variables:
                    flag(var, "is required with STORAGE_ADAPTER=gcs")
        if not self.is_prod:
            return variables, messages
        for var, secret in (
            ("PACKFINDERZ_JWT_SECRET", self.jwt_secret),
            ("PACKFINDERZ_ADS_TOKEN_SECRET", self.ads_token_secret),
        ):
            _check_secret(flag, var, secret)
        if self.storage_adapter == "local":
            _check_secret(flag, "PACKFINDERZ_STORAGE_SIGNING_SECRET", self.storage_signing_secret)
            if not self.public_base_url:
                flag("PACKFINDERZ_PUBLIC_BASE_URL", "is required in prod with STORAGE_ADAPTER=local")
        if self.redis_connection_url is None:
            flag("PACKFINDERZ_REDIS_URL", "is required in prod (or REDIS_URL, or REDIS_ADDR)")
        if _secret(self.metrics_token) is None:
            flag("PACKFINDERZ_METRICS_TOKEN", "is required in prod (/metrics is never public there)")
        if self.db_dsn is None and self.effective_db_sslmode in ("disable", "allow", "prefer"):
            flag("PACKFINDERZ_DB_SSLMODE", "must be require, verify-ca or verify-full in prod")
        if self.effective_billing_provider == "sandbox":
            flag("PACKFINDERZ_BILLING_PROVIDER", "may not be sandbox in prod")
        elif self.effective_billing_provider == "square":
            for var, value in (
                ("PACKFINDERZ_SQUARE_ACCESS_TOKEN", _secret(self.square_access_token)),
                ("PACKFINDERZ_SQUARE_LOCATION_ID", self.square_location_id),
                ("PACKFINDERZ_SQUARE_WEBHOOK_SIGNATURE_KEY", _secret(self.square_webhook_signature_key)),
                ("PACKFINDERZ_SQUARE_WEBHOOK_URL", self.square_webhook_url),
            ):
                if not value:
                    flag(var, "is required with BILLING_PROVIDER=square")
        if self.maps_provider == "google" and self.google_maps_api_key is None:
            flag("PACKFINDERZ_GOOGLE_MAPS_API_KEY", "is required with MAPS_PROVIDER=google")
        return variables, messages


def _check_secret(flag: Any, var: str, secret: SecretStr | None) -> None:
    value = _secret(secret)
    if value is None:
        flag(var, "is required in prod")
    elif len(value.encode()) < 32:
        flag(var, "must be at least 32 bytes")


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def to_asyncpg_url(url: str) -> str:
    """Normalise postgres:// and postgresql:// URLs to SQLAlchemy's asyncpg form."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("postgres", "postgresql", "postgresql+asyncpg"):
        raise ValueError("database URL must start with postgres:// or postgresql://")
    url = f"postgresql+asyncpg://{rest}"
    # asyncpg takes ssl=, not sslmode=
    return url.replace("sslmode=", "ssl=")


def env_var_names() -> dict[str, FieldInfo]:
    """Map each environment variable Settings reads to its field (the first alias is the documented one)."""
    names: dict[str, FieldInfo] = {}
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            for choice in alias.choices:
                names[str(choice)] = info
        else:
            names[ENV_PREFIX + field_name.upper()] = info
    return names


def unknown_prefixed_variables(environ: dict[str, str] | None = None) -> list[str]:
    """PACKFINDERZ_* variables no setting reads (logged as a warning at startup)."""
    environ = dict(os.environ) if environ is None else environ
    known = {name.upper() for name in env_var_names()}
    # Read by the test suite and CI, never by the app.
    ignored = {
        "PACKFINDERZ_TEST_DB_DSN",
        "PACKFINDERZ_TEST_REDIS_URL",
        "PACKFINDERZ_TEST_NAMESPACE",
        "PACKFINDERZ_TEST_PUBSUB_EMULATOR",
        "PACKFINDERZ_REQUIRE_PUBSUB_EMULATOR",
    }
    return sorted(
        key for key in environ if key.upper().startswith(ENV_PREFIX) and key.upper() not in known | ignored
    )


def _variable_for(location: str) -> str:
    """The variable behind a validation error: of the field's names, the first one that is set."""
    # pydantic reports the first alias whichever was given: PACKFINDERZ_APP_PORT=x would blame PORT.
    present = {key.upper() for key in os.environ}
    for field_name, info in Settings.model_fields.items():
        alias = info.validation_alias
        names = (
            [str(choice) for choice in alias.choices]
            if isinstance(alias, AliasChoices)
            else [ENV_PREFIX + field_name.upper()]
        )
        if location == field_name or location in names:
            return next((name for name in names if name.upper() in present), names[0])
    return location if location.isupper() else ENV_PREFIX + location.upper()


def load_settings(groups: set[str] | None = None, **overrides: Any) -> Settings:
    """Read the environment and validate the given groups (`db`, `app`); raise ConfigError listing all."""
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        variables: list[str] = []
        messages: list[str] = []
        for error in exc.errors():
            var = _variable_for(str(error["loc"][0]) if error["loc"] else "?")
            variables.append(var)
            messages.append(f"{var} {error['msg'].removeprefix('Value error, ')}")
        raise ConfigError(variables, messages) from None
    variables, messages = settings.problems(groups or set())
    if variables:
        raise ConfigError(variables, messages)
    return settings
