"""Configuration from the environment (``NOTES_*`` variables), read when the app is built."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# apps/notes/migrations, beside the package's source folder.
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


API_OWN_CONNECTIONS = 1
"""Connections an API process opens besides its pools: the live event feed's LISTEN."""

WORKER_OWN_CONNECTIONS = 3
"""Connections an event worker opens besides its pools: the dispatcher's LISTEN, and the
webhook delivery consumer's two (pgqueuer's statements and its LISTEN)."""


class Settings(BaseSettings):
    """The service's settings; each field is read from ``NOTES_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NOTES_", extra="ignore", frozen=True)

    app_name: str = "notes"
    database_url: Annotated[str, Field(min_length=1)]
    db_pool_size: Annotated[int, Field(ge=1, le=100)] = 10
    db_max_overflow: Annotated[int, Field(ge=0, le=100)] = 5
    db_connect_attempts: Annotated[int, Field(ge=1)] = 20
    db_connect_interval: Annotated[float, Field(gt=0)] = 0.5
    # The longest a request waits for a database connection, and for a new one to open.
    db_pool_timeout: Annotated[float, Field(gt=0, le=60)] = 3.0
    # Set on every connection of the service; 0 turns one off, as in PostgreSQL.
    db_statement_timeout: Annotated[float, Field(ge=0, le=3600)] = 5.0
    db_lock_timeout: Annotated[float, Field(ge=0, le=3600)] = 2.0
    db_idle_in_transaction_timeout: Annotated[float, Field(ge=0, le=3600)] = 30.0
    # The shape of the deployment, for the connection budget (``connection_budget``).
    api_processes: Annotated[int, Field(ge=1, le=1000)] = 1
    worker_processes: Annotated[int, Field(ge=0, le=1000)] = 1
    # Requests of a process that may wait for the database at once, per queue: creates waiting
    # for their batch, reads waiting for a connection. Beyond it, a request gets 503 at once.
    db_max_waiting: Annotated[int, Field(ge=1, le=100_000)] = 1000
    # Seconds a client is told to wait (``Retry-After``) before repeating a request that got 503.
    retry_after: Annotated[int, Field(ge=1, le=3600)] = 2
    log_level: str = "INFO"
    # The largest legal note written in the most verbose JSON (every character of 100,000
    # contents and 100 category characters as a \\uXXXX\\uXXXX surrogate pair: 1,201,226 bytes),
    # with room to spare: 1.25 MiB.
    max_body_bytes: Annotated[int, Field(ge=1)] = 1_310_720
    max_header_bytes: Annotated[int, Field(ge=1024)] = 16_384
    # The body of POST /notes/import (NDJSON, docs/streams.md): streamed and stored in
    # batches, so its cap bounds the time an import takes, not the memory. 1 GiB.
    import_max_body_bytes: Annotated[int, Field(ge=1)] = 1_073_741_824
    worker_poll_interval: Annotated[float, Field(gt=0)] = 2.0
    worker_reconnect_interval: Annotated[float, Field(gt=0)] = 1.0
    worker_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    # A listener failing on an event: tries in all, then the first delay, doubling to the cap.
    event_max_attempts: Annotated[int, Field(ge=1, le=100)] = 10
    event_retry_base_seconds: Annotated[float, Field(gt=0, le=3600)] = 1.0
    event_retry_max_seconds: Annotated[float, Field(gt=0, le=86_400)] = 300.0
    # Dispatched events are kept this long (what a stream can resume from), parked ones this
    # long after parking; the worker prunes every event_prune_interval_seconds.
    event_retention_hours: Annotated[float, Field(gt=0, le=87_600)] = 168.0
    parked_event_retention_hours: Annotated[float, Field(gt=0, le=87_600)] = 720.0
    event_prune_interval_seconds: Annotated[float, Field(gt=0, le=86_400)] = 60.0
    migrations_dir: Path = MIGRATIONS_DIR
    token_lifetime_days: Annotated[int, Field(ge=1, le=365)] = 30
    # How long a process trusts a token it has looked up: the bound on honouring a revoked one.
    token_cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    login_failure_limit: Annotated[int, Field(ge=1, le=1000)] = 5
    login_failure_window_seconds: Annotated[int, Field(ge=1, le=86_400)] = 900
    password_hash_concurrency: Annotated[int, Field(ge=1, le=64)] = 2
    # Signs list cursors. Unset, each process draws its own (``python -m notes`` draws one per
    # launch for all its workers): replicas must share one value, or a cursor issued by one is
    # refused by another.
    cursor_secret: SecretStr | None = None
    # Webhooks (docs/webhooks.md). Timeouts in seconds: connecting, and the whole attempt.
    webhook_timeout: Annotated[float, Field(gt=0, le=300)] = 15.0
    webhook_max_response_bytes: Annotated[int, Field(ge=0, le=10 * 1024 * 1024)] = 64 * 1024
    # Seconds before each retry (full jitter: a random wait up to the step); one attempt more
    # than steps. Standard Webhooks' example: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h.
    webhook_retry_schedule: Annotated[
        tuple[Annotated[float, Field(ge=0)], ...], Field(min_length=0, max_length=50)
    ] = (5, 300, 1800, 7200, 18000, 36000, 36000)
    # A subscription whose deliveries fail without a success for this long is disabled.
    webhook_disable_after_seconds: Annotated[float, Field(gt=0)] = 5 * 86_400
    # After a rotation the previous secret keeps signing beside the new one this long.
    webhook_secret_overlap_seconds: Annotated[int, Field(ge=0, le=30 * 86_400)] = 86_400
    webhook_max_subscriptions: Annotated[int, Field(ge=1, le=1000)] = 20
    # Plain http:// receivers (development only), and loopback receivers (local tests only).
    webhook_allow_http: bool = False
    webhook_allow_loopback: bool = False
    # Deliveries one worker process runs at once; the queue's poll and stall detection.
    webhook_concurrency: Annotated[int, Field(ge=2, le=1000)] = 20
    # Delivered and failed deliveries (and the queue's log) are deleted after this many days,
    # by each worker, every purge interval (seconds).
    webhook_retention_days: Annotated[float, Field(gt=0, le=3650)] = 30
    webhook_purge_interval: Annotated[float, Field(gt=0)] = 3600
    queue_poll_interval: Annotated[float, Field(gt=0, le=60)] = 2.0
    queue_heartbeat_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
    # The live event feed (GET /events/): events a client may fall behind by before it is
    # dropped, and how often each API process reads the event log when no NOTIFY wakes it.
    events_buffer_size: Annotated[int, Field(ge=1, le=100_000)] = 256
    events_poll_interval: Annotated[float, Field(gt=0, le=60)] = 1.0

    @field_validator("database_url")
    @classmethod
    def _use_psycopg(cls, value: str) -> str:
        """Accept a plain ``postgresql://`` URL and point SQLAlchemy at psycopg 3."""
        for prefix in ("postgresql://", "postgres://"):
            if value.startswith(prefix):
                return "postgresql+psycopg://" + value.removeprefix(prefix)
        if not value.startswith("postgresql+psycopg://"):
            msg = "NOTES_DATABASE_URL must be a postgresql:// or postgresql+psycopg:// URL"
            raise ValueError(msg)
        return value

    @field_validator("cursor_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode()) < 16:
            msg = "NOTES_CURSOR_SECRET must be at least 16 bytes long"
            raise ValueError(msg)
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            msg = f"unknown log level {value!r}"
            raise ValueError(msg)
        return level

    def connections_per_process(self) -> int:
        """The most connections one process (API or worker) opens: its read pool
        (``db_pool_size``) and its engine's pool (``db_pool_size + db_max_overflow``)."""
        return 2 * self.db_pool_size + self.db_max_overflow

    def connection_budget(self) -> int:
        """The most connections the deployment opens: every API and worker process's pools,
        and the connections each opens besides them (``API_OWN_CONNECTIONS``,
        ``WORKER_OWN_CONNECTIONS``)."""
        processes = self.api_processes + self.worker_processes
        return (
            processes * self.connections_per_process()
            + self.api_processes * API_OWN_CONNECTIONS
            + self.worker_processes * WORKER_OWN_CONNECTIONS
        )
