"""The service's errors: one root, precise leaves, no HTTP in them."""

from __future__ import annotations

import uuid


class NotesError(Exception):
    """Root of every error the notes service raises on purpose."""


class NoteNotFoundError(NotesError):
    """No live note has this id (it never existed, or it was deleted)."""

    def __init__(self, note_id: uuid.UUID) -> None:
        super().__init__(f"note {note_id} does not exist")
        self.note_id = note_id


class VersionConflictError(NotesError):
    """The note is not at any of the versions the caller based its change on; nothing changed."""

    def __init__(self, note_id: uuid.UUID, current: int) -> None:
        super().__init__(f"note {note_id} is at version {current}, not at the version expected")
        self.note_id = note_id
        self.current = current


class InvalidCursorError(NotesError):
    """A list cursor that this service did not issue, or that was altered."""

    def __init__(self) -> None:
        super().__init__("the cursor is malformed or was not issued by this service")


class IdempotencyKeyInUseError(NotesError):
    """Another request with this idempotency key is still being handled."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"a request with idempotency key {key!r} is still in progress; retry later"
        )
        self.key = key


class IdempotencyKeyReusedError(NotesError):
    """The idempotency key was already used for a different request."""

    def __init__(self, key: str) -> None:
        super().__init__(f"idempotency key {key!r} was already used with a different request")
        self.key = key


class EmailTakenError(NotesError):
    """An account with this email (in any case) exists already."""

    def __init__(self) -> None:
        super().__init__("an account with this email exists already")


class WeakPasswordError(NotesError):
    """The password breaks a rule of ``services.passwords``; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the password is not accepted: {reason}")
        self.reason = reason


class InvalidCredentialsError(NotesError):
    """The email and password do not match an account that can log in.

    The same error for an unknown email, a wrong password and an account with no password, so
    the answer tells a guesser nothing.
    """

    def __init__(self) -> None:
        super().__init__("the email or the password is wrong")


class TooManyLoginAttemptsError(NotesError):
    """Logins for this email failed too often lately; try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed logins for this email; retry in {retry_after} s")
        self.retry_after = retry_after


class InvalidTokenError(NotesError):
    """No bearer token, or one that is unknown, revoked or expired."""

    def __init__(self, detail: str = "a valid bearer token is required") -> None:
        super().__init__(detail)


class TokenNotFoundError(NotesError):
    """The caller has no token with this id (it never existed, or it is another's)."""

    def __init__(self, token_id: uuid.UUID) -> None:
        super().__init__(f"token {token_id} does not exist")
        self.token_id = token_id


class SubscriptionNotFoundError(NotesError):
    """The caller has no webhook subscription with this id (it never existed, or it is
    another's)."""

    def __init__(self, subscription_id: uuid.UUID) -> None:
        super().__init__(f"webhook subscription {subscription_id} does not exist")
        self.subscription_id = subscription_id


class DeliveryNotFoundError(NotesError):
    """The subscription has no delivery with this id."""

    def __init__(self, delivery_id: uuid.UUID) -> None:
        super().__init__(f"delivery {delivery_id} does not exist")
        self.delivery_id = delivery_id


class DeliveryNotFailedError(NotesError):
    """Only a delivery that failed for good can be retried by hand."""

    def __init__(self, delivery_id: uuid.UUID, status: str) -> None:
        super().__init__(f"delivery {delivery_id} is {status}; only a failed one can be retried")
        self.delivery_id = delivery_id


class InvalidWebhookUrlError(NotesError):
    """A webhook URL the service will not send to; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"the webhook URL is not accepted: {reason}")
        self.reason = reason


class TooManySubscriptionsError(NotesError):
    """The account has as many webhook subscriptions as it may have."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"an account may have at most {limit} webhook subscriptions")
        self.limit = limit
