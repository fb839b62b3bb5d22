"""Sending one delivery: sign it, POST it, judge the answer, decide what comes next.

The job queue calls ``DeliveryService.attempt`` once per job run; the answer is the wait
before the next attempt, or None when the delivery is done (delivered, failed for good, or
no longer there). The job queue puts the job back with that wait. The outcome of every
attempt is stored in ``webhook_deliveries`` and ``webhook_attempts``, written in batches
(group commit) so that many concurrent attempts share one transaction.

What counts: a 2xx answer delivers; ``410 Gone`` fails the delivery and disables the
subscription at once; anything else (another status, a redirect, which is never followed, a
timeout, a refused or failed connection) is retried on the schedule, with the wait raised to
the receiver's ``Retry-After`` on a 429 or 503, until the schedule runs out: then the delivery
is failed for good (the dead letter, retried by hand through the API).
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import hmac
import logging
import random
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from notes.core.batching import Batcher
from notes.core.clock import Clock, utc_now
from notes.entities import AttemptRecord, DeliveryStatus, SendResult
from notes.services.ports import DeliveryReader, UnitsOfWork, WebhookSender

_logger = logging.getLogger(__name__)

GONE = 410
RETRY_AFTER_STATUSES = frozenset({429, 503})


def sign(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks signature of a message: ``v1,`` and base64 of HMAC-SHA256.

    The key is the secret's bytes (base64 after ``whsec_``); the signed content is
    ``<message id>.<timestamp>.<body>``.
    """
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def webhook_headers(
    message_id: str, timestamp: int, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """The headers of a delivery: its id, time and a signature by each secret, space-separated."""
    return {
        "Content-Type": "application/json",
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(sign(s, message_id, timestamp, body) for s in secrets),
    }


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """The wait a ``Retry-After`` header asks for: delta-seconds or an HTTP date; None when
    absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - now).total_seconds(), 0.0)


def next_delay(
    attempts: int,
    schedule: Sequence[float],
    rng: random.Random,
    *,
    retry_after: float | None = None,
) -> timedelta | None:
    """The wait before the next attempt, after ``attempts`` failed ones; None when they are
    used up.

    Full jitter: a uniformly random wait between 0 and the schedule's step for this attempt,
    so receivers coming back from an outage are not met by every retry at once. A receiver's
    ``Retry-After`` raises the wait to what it asked for, at most the schedule's longest step.
    """
    if attempts < 1 or attempts > len(schedule):
        return None
    wait = rng.uniform(0, schedule[attempts - 1])
    if retry_after is not None:
        wait = max(wait, min(retry_after, max(schedule)))
    return timedelta(seconds=wait)


class DeliveryService:
    """Makes attempts at deliveries and records their outcomes."""

    def __init__(  # noqa: PLR0913 - each is a setting of its own
        self,
        uow: UnitsOfWork,
        reader: DeliveryReader,
        sender: WebhookSender,
        *,
        schedule: Sequence[float] = (5, 300, 1800, 7200, 18000, 36000, 36000),
        failing_for: timedelta = timedelta(days=5),
        clock: Clock = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self._uow = uow
        self._reader = reader
        self._sender = sender
        self._schedule = tuple(schedule)
        self._failing_for = failing_for
        self._clock = clock
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._records = Batcher(self._store)

    async def attempt(self, delivery_id: uuid.UUID) -> timedelta | None:
        """One attempt at the delivery; the wait before the next, or None when it is done."""
        now = self._clock()
        task = await self._reader.get_for_attempt(delivery_id, now)
        if task is None or task.status != DeliveryStatus.PENDING:
            return None  # deleted, or settled before (a job taken again after a crash)
        if not task.subscription_enabled:
            await self._record(
                task.delivery_id,
                task.subscription_id,
                now,
                None,
                0.0,
                error="the subscription is disabled",
                status=DeliveryStatus.FAILED,
            )
            return None
        timestamp = int(now.timestamp())
        headers = webhook_headers(str(task.delivery_id), timestamp, task.payload, task.secrets)
        result = await self._sender.send(task.url, task.payload, headers)
        attempts = task.attempt_count + 1
        return await self._judge(task.delivery_id, task.subscription_id, now, result, attempts)

    async def _judge(
        self,
        delivery_id: uuid.UUID,
        subscription_id: uuid.UUID,
        now: datetime,
        result: SendResult,
        attempts: int,
    ) -> timedelta | None:
        code = result.status_code
        duration_ms = result.duration * 1000
        if code is not None and 200 <= code < 300:
            await self._record(
                delivery_id,
                subscription_id,
                now,
                code,
                duration_ms,
                status=DeliveryStatus.DELIVERED,
            )
            return None
        if code == GONE:
            await self._record(
                delivery_id,
                subscription_id,
                now,
                code,
                duration_ms,
                status=DeliveryStatus.FAILED,
                gone=True,
            )
            _logger.info(
                "delivery %s: 410 Gone, subscription %s disabled", delivery_id, subscription_id
            )
            return None
        retry_after = (
            retry_after_seconds(result.retry_after, now) if code in RETRY_AFTER_STATUSES else None
        )
        delay = next_delay(attempts, self._schedule, self._rng, retry_after=retry_after)
        if delay is None:
            await self._record(
                delivery_id,
                subscription_id,
                now,
                code,
                duration_ms,
                error=result.error,
                status=DeliveryStatus.FAILED,
            )
            _logger.warning(
                "delivery %s failed for good after %d attempts: %s",
                delivery_id,
                attempts,
                result.error or f"status {code}",
            )
            return None
        await self._record(
            delivery_id,
            subscription_id,
            now,
            code,
            duration_ms,
            error=result.error,
            status=DeliveryStatus.PENDING,
            next_attempt_at=now + delay,
        )
        return delay

    async def _record(  # noqa: PLR0913 - the fields of an attempt's record
        self,
        delivery_id: uuid.UUID,
        subscription_id: uuid.UUID,
        now: datetime,
        status_code: int | None,
        duration_ms: float,
        *,
        status: DeliveryStatus,
        error: str | None = None,
        next_attempt_at: datetime | None = None,
        gone: bool = False,
    ) -> None:
        await self._records.submit(
            AttemptRecord(
                delivery_id=delivery_id,
                subscription_id=subscription_id,
                attempted_at=now,
                status_code=status_code,
                error=error,
                duration_ms=duration_ms,
                status=status,
                next_attempt_at=next_attempt_at,
                gone=gone,
            )
        )

    async def purge(self, retention: timedelta, *, limit: int = 10_000) -> int:
        """Delete settled deliveries, and the queue's log, older than ``retention``: up to
        ``limit`` rows of each, in one transaction. How many deliveries were deleted."""
        before = self._clock() - retention
        async with self._uow() as uow:
            purged = await uow.deliveries.purge_settled(before, limit=limit)
            await uow.delivery_queue.purge_log(before, limit=limit)
            await uow.commit()
        return purged

    async def _store(self, records: Sequence[AttemptRecord]) -> None:
        async with self._uow() as uow:
            await uow.deliveries.record_attempts(records, failing_for=self._failing_for)
            await uow.commit()
