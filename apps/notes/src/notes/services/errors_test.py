# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""The service's errors: what each tells its caller (the HTTP layer shows the message as the
problem's detail), and that one root catches them all."""

import uuid

import pytest

from notes.services.errors import (
    EmailTakenError,
    IdempotencyKeyInUseError,
    IdempotencyKeyReusedError,
    InvalidCredentialsError,
    InvalidCursorError,
    InvalidTokenError,
    NoteNotFoundError,
    NotesError,
    TokenNotFoundError,
    TooManyLoginAttemptsError,
    VersionConflictError,
    WeakPasswordError,
)

NOTE_ID = uuid.UUID("0190f5a2-7c4e-7000-8000-000000000001")


@pytest.mark.parametrize(
    "error",
    [
        NoteNotFoundError(NOTE_ID),
        VersionConflictError(NOTE_ID, 3),
        InvalidCursorError(),
        IdempotencyKeyInUseError("k"),
        IdempotencyKeyReusedError("k"),
    ],
    ids=lambda error: type(error).__name__,
)
def test_every_service_error_is_caught_by_the_root_error(error):
    assert isinstance(error, NotesError)


def test_version_conflict_names_the_note_and_its_current_version():
    error = VersionConflictError(NOTE_ID, 3)
    assert (error.note_id, error.current) == (NOTE_ID, 3)
    assert str(error) == f"note {NOTE_ID} is at version 3, not at the version expected"


def test_invalid_cursor_message_says_what_is_wrong_without_echoing_the_cursor():
    assert str(InvalidCursorError()) == "the cursor is malformed or was not issued by this service"


def test_key_in_use_names_the_key_and_invites_a_retry():
    error = IdempotencyKeyInUseError("order-42")
    assert error.key == "order-42"
    assert str(error) == (
        "a request with idempotency key 'order-42' is still in progress; retry later"
    )


def test_key_reused_names_the_key():
    error = IdempotencyKeyReusedError("order-42")
    assert error.key == "order-42"
    assert str(error) == "idempotency key 'order-42' was already used with a different request"


@pytest.mark.parametrize(
    ("error", "message"),
    [
        (EmailTakenError(), "an account with this email exists already"),
        (WeakPasswordError("it is short"), "the password is not accepted: it is short"),
        (InvalidCredentialsError(), "the email or the password is wrong"),
        (
            TooManyLoginAttemptsError(42),
            "too many failed logins for this email; retry in 42 s",
        ),
        (InvalidTokenError(), "a valid bearer token is required"),
        (InvalidTokenError("the token expired"), "the token expired"),
        (TokenNotFoundError(NOTE_ID), f"token {NOTE_ID} does not exist"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else "message",
)
def test_account_errors_say_what_is_wrong_and_are_service_errors(error, message):
    assert str(error) == message
    assert isinstance(error, NotesError)


def test_account_errors_carry_what_their_handlers_need():
    assert WeakPasswordError("it is short").reason == "it is short"
    assert TooManyLoginAttemptsError(42).retry_after == 42
    assert TokenNotFoundError(NOTE_ID).token_id == NOTE_ID
