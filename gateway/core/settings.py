"""Gateway configuration: one `Settings` object, every field from a `LENDGATE_` variable."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Everything an operator can set; read from the environment (and `.env`).

    The per-source settings (`source_urls`, `source_credentials`, `simulator_ports`) are
    empty unless set: the source registry fills in each source's defaults at start-up.
    """

    model_config = SettingsConfigDict(env_prefix="LENDGATE_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="`development` generates missing keys and accepts development "
        "credentials; anything else refuses to start without real ones.",
    )
    data_dir: Path = Field(Path("var"), description="Where the embedded database and keys live.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL; default is a SQLite file `lendgate.db` in the data "
        "directory. PostgreSQL: `postgresql+asyncpg://user@host/db`.",
    )
    database_pool_size: int = Field(
        10,
        ge=1,
        description="PostgreSQL connections each gateway process keeps for requests; also how "
        "many requests one process lets work on the database at once.",
    )
    database_max_overflow: int = Field(
        20, ge=0, description="PostgreSQL connections a process may open beyond the pool at peaks."
    )
    database_pool_timeout_seconds: float = Field(
        30.0, gt=0, description="How long a request waits for a free database connection."
    )
    database_queue_seconds: float = Field(
        1.0,
        ge=0,
        description="How long a request waits for its turn on the database when the process "
        "is at `database_pool_size`; then it is refused `RateLimited` with Retry-After.",
    )
    idempotency_keep_hours: float = Field(
        24.0, ge=24, description="How long an `Idempotency-Key` and its first answer are kept."
    )
    idempotency_purge_interval_seconds: float = Field(
        3600.0,
        ge=0,
        description="How often each running gateway deletes the `Idempotency-Key`s kept "
        "longer than `idempotency_keep_hours`; 0 turns the purge off.",
    )
    database_connect_timeout_seconds: float = Field(
        10.0,
        gt=0,
        description="How long opening a PostgreSQL connection may take before the "
        "request is answered `AuditUnavailable` (503, `Retry-After`).",
    )
    key_dir: Path | None = Field(
        None, description="Folder of the gateway's private keys; default `<data_dir>/keys`."
    )
    issuer: str = Field(
        "http://127.0.0.1:8000",
        description="The gateway's public base URL: token `iss`/`aud` and the token endpoint.",
    )
    host: str = Field("127.0.0.1", description="Address `lendgate serve` binds.")
    port: int = Field(8000, description="Port `lendgate serve` binds.")
    workers: int | None = Field(
        None,
        ge=1,
        description="Processes `lendgate serve` runs, sharing its port; default one per CPU "
        "core in production, one in development and test.",
    )
    portal_url: str | None = Field(
        None, description="Base URL of the borrower portal in approval links; default the issuer."
    )
    source_urls: dict[str, str] = Field(
        default_factory=dict,
        description="Base URL of each source system, by source name (JSON object).",
    )
    source_credentials: dict[str, str] = Field(
        default_factory=dict,
        description="The gateway's credential at each source, by source name: an API key, "
        "or the shared secret requests are signed with (征信).",
    )
    source_timeout_seconds: float = Field(
        5.0, description="How long one source may take to answer before the release fails."
    )
    source_timeouts: dict[str, float] = Field(
        default_factory=dict,
        description="Per-source timeouts in seconds overriding `source_timeout_seconds` (JSON).",
    )
    source_max_connections: int = Field(
        100,
        ge=1,
        description="Connections each gateway process opens to one source at most; idle ones "
        "stay open for the next release (HTTP keep-alive).",
    )
    source_retries: int = Field(
        2, ge=0, le=5, description="Retries of a query after a transient failure (5xx, refused)."
    )
    source_retry_backoff_seconds: float = Field(
        0.1, ge=0, description="Cap of the first jittered wait before a retry; doubles each time."
    )
    source_breaker_failures: int = Field(
        5, ge=1, description="Failed fetches in a row that open a source's circuit breaker."
    )
    source_breaker_reset_seconds: float = Field(
        30.0, ge=0, description="How long an open breaker fails fetches before one trial call."
    )
    authorization_font: Path = Field(
        Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
        description="A font with Chinese glyphs (TrueType or a TrueType collection) embedded "
        "in the authorization letters' PDFs; Debian's fonts-wqy-microhei by default.",
    )
    sms_sender: str | None = Field(
        None,
        description="Who texts one-time codes: `outbox` (development: append each message to "
        "`sms_outbox`) or `package.module:factory` naming a function that takes the settings "
        "and returns a `gateway.sms.senders.SmsSender` (`gateway.sms.http:http_sender` posts to "
        "an HTTP provider). Unset: the outbox in development; elsewhere the gateway refuses "
        "to start.",
    )
    sms_outbox: Path | None = Field(
        None,
        description="The development SMS outbox: every message appended to this file as a "
        "JSON line; default `<data_dir>/sms-outbox.jsonl`.",
    )
    sms_http_url: str | None = Field(
        None, description="The HTTP SMS provider's send endpoint (`gateway.sms.http`)."
    )
    sms_http_api_key: str | None = Field(
        None, description="The bearer key the HTTP SMS provider gave this gateway."
    )
    sms_http_template: str = Field(
        "lendgate-otp", description="The provider's template id of the one-time-code message."
    )
    sms_http_timeout_seconds: float = Field(
        5.0, gt=0, description="How long the HTTP SMS provider may take to take a message."
    )
    otp_ttl_seconds: int = Field(300, description="How long a one-time code stays valid.")
    otp_max_attempts: int = Field(5, description="Wrong tries before a one-time code is void.")
    access_token_ttl_seconds: int = Field(300, description="Lifetime of lender access tokens.")
    pending_consent_ttl_hours: float = Field(
        168,
        ge=0,
        description="How long a consent request waits for the borrower before it expires "
        "(never beyond the consent's `valid_until`).",
    )
    notification_dispatch_interval_seconds: float = Field(
        5.0,
        ge=0,
        description="How often each running gateway delivers due lender notifications and "
        "records consents that expired meanwhile; 0 turns the background dispatcher off.",
    )
    notification_timeout_seconds: float = Field(
        5.0, gt=0, description="How long a lender's `callback_url` may take to answer an event."
    )
    notification_max_attempts: int = Field(
        8, ge=1, description="Delivery attempts of one event before it is kept as `failed`."
    )
    notification_retry_backoff_seconds: float = Field(
        30.0, ge=0, description="Wait after an event's first failed delivery; doubles each time."
    )
    notification_retry_backoff_max_seconds: float = Field(
        3600.0, ge=0, description="Longest wait between two delivery attempts of one event."
    )
    borrower_session_ttl_seconds: int = Field(1800, description="Lifetime of borrower sessions.")
    client_assertion_max_lifetime_seconds: int = Field(
        300, description="Latest `exp` a client assertion may carry, counted from now."
    )
    clock_skew_seconds: int = Field(30, description="Clock difference tolerated on tokens.")
    dpop_proof_max_age_seconds: int = Field(
        60, ge=1, description="How old a DPoP proof's `iat` may be (plus the clock skew)."
    )
    redis_url: str | None = Field(
        None,
        description="Redis (`redis://host:6379/0`) for rate-limit counters and spent DPoP "
        "proof ids, shared by every gateway process; unset: the database holds them.",
    )
    client_rate_limit: int = Field(
        600, ge=1, description="Requests one client may make per rate-limit window."
    )
    client_rate_limit_window_seconds: int = Field(
        60, ge=1, description="The window of `client_rate_limit`, in seconds."
    )
    rate_limit_sync_seconds: float = Field(
        1.0,
        ge=0,
        description="Without Redis: how long each process counts client requests on its own "
        "before adding them to the shared count in the database (0: every request at once).",
    )
    otp_send_limit_per_phone: int = Field(
        5, ge=1, description="One-time codes one phone may be sent per OTP window."
    )
    otp_send_limit_per_ip: int = Field(
        100, ge=1, description="One-time codes one client address may ask for per OTP window."
    )
    otp_send_window_seconds: int = Field(
        600, ge=1, description="The window of the OTP send limits, in seconds."
    )
    otp_lockout_failures: int = Field(
        10, ge=1, description="Wrong codes for one phone (any challenge) that lock it out."
    )
    otp_lockout_seconds: int = Field(
        900, ge=1, description="How long those failures count, and so the longest lockout."
    )
    max_request_body_bytes: int = Field(
        65_536, ge=1024, description="Largest request body accepted; larger ones get 413."
    )
    policy_dir: Path | None = Field(
        None, description="Folder with this deployment's `purposes.yaml` and `features.yaml`."
    )
    simulator_seed: int = Field(20261123, description="Seed of the simulators' population.")
    simulator_population: int = Field(
        10_000,
        description="How many seeded people each simulator holds (plus sandbox identities).",
    )
    simulator_host: str = Field("127.0.0.1", description="Address the simulators bind.")
    simulator_ports: dict[str, int] = Field(
        default_factory=dict,
        description="Loopback port of each simulator.",
    )
    simulator_faults: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Fault plan of each simulator at start-up (JSON object, source to plan; "
        'see `connectors/simulators/faults.py`), e.g. `{"housing_fund": {"latency_ms": 800}}`.',
    )
    simulator_admin_key: str | None = Field(
        "dev-simulator-admin-key",
        description="Key of the simulators' admin endpoints (`X-Admin-Key`); unset turns them off.",
    )
    log_level: str = Field("INFO", description="Lowest level written to the log.")
    audit_tree_head_interval_seconds: float = Field(
        300.0,
        description="How often each running gateway signs a tree head of the audit log when "
        "it has grown (besides on demand); 0 turns the schedule off.",
    )
    kms: str = Field(
        "file",
        description="Where the key-encryption keys live: `file` (the `kek/` folder of the key "
        "directory) or `package.module:factory` naming a function that takes the settings and "
        "returns a `gateway.crypto.kms.Kms` (a hardware or cloud KMS).",
    )
    egress_allowed_entities: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Personal-data entity types a purpose may release (JSON object, purpose "
        "code to entity types such as `CN_MOBILE`); none by default, so any finding blocks.",
    )

    @property
    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'lendgate.db').resolve()}"

    @property
    def resolved_sms_outbox(self) -> Path:
        """The development SMS outbox file: the configured one or `<data_dir>/sms-outbox.jsonl`."""
        return self.sms_outbox or self.data_dir / "sms-outbox.jsonl"

    @property
    def resolved_key_dir(self) -> Path:
        """The folder holding private keys."""
        return self.key_dir or self.data_dir / "keys"

    @property
    def token_endpoint(self) -> str:
        """The token endpoint URL, an accepted `aud` of client assertions."""
        return self.issuer.rstrip("/") + "/oauth/token"

    @property
    def resolved_workers(self) -> int:
        """How many processes `lendgate serve` runs."""
        if self.workers is not None:
            return self.workers
        if self.is_development:
            return 1
        return (
            len(os.sched_getaffinity(0))
            if hasattr(os, "sched_getaffinity")
            else os.cpu_count() or 1
        )

    @property
    def is_development(self) -> bool:
        """Whether missing keys may be generated and development credentials accepted."""
        return self.environment in ("development", "test")


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
