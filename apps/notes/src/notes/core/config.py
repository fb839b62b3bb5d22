"""Configuration from the environment (``NOTES_*`` variables), read when the app is built."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# apps/notes/migrations, beside the package's source folder.
MIGRATIONS_DIR = Path(__file__).resolve().parents[3] / "migrations"


class Settings(BaseSettings):
    """The service's settings; each field is read from ``NOTES_<FIELD>``."""

    model_config = SettingsConfigDict(env_prefix="NOTES_", extra="ignore", frozen=True)

    app_name: str = "notes"
    database_url: Annotated[str, Field(min_length=1)]
    db_pool_size: Annotated[int, Field(ge=1, le=100)] = 20
    db_max_overflow: Annotated[int, Field(ge=0, le=100)] = 5
    db_connect_attempts: Annotated[int, Field(ge=1)] = 20
    db_connect_interval: Annotated[float, Field(gt=0)] = 0.5
    log_level: str = "INFO"
    max_body_bytes: Annotated[int, Field(ge=1)] = 1024 * 1024
    worker_poll_interval: Annotated[float, Field(gt=0)] = 2.0
    worker_reconnect_interval: Annotated[float, Field(gt=0)] = 1.0
    worker_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 100
    migrations_dir: Path = MIGRATIONS_DIR
    token_lifetime_days: Annotated[int, Field(ge=1, le=365)] = 30
    # How long a process trusts a token it has looked up: the bound on honouring a revoked one.
    token_cache_seconds: Annotated[float, Field(ge=0, le=300)] = 5.0
    login_failure_limit: Annotated[int, Field(ge=1, le=1000)] = 5
    login_failure_window_seconds: Annotated[int, Field(ge=1, le=86_400)] = 900
    password_hash_concurrency: Annotated[int, Field(ge=1, le=64)] = 2
    # Signs list cursors. The default is random per process: replicas (and workers) must share
    # one value, or a cursor issued by one is refused by another.
    cursor_secret: SecretStr = Field(default_factory=lambda: SecretStr(secrets.token_urlsafe(32)))
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
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value().encode()) < 16:
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
