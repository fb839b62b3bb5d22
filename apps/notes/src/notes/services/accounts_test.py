# mypy: disallow-untyped-defs=False, disallow-incomplete-defs=False, disallow-untyped-calls=False
"""Accounts and tokens on the in-memory fakes: sign-up rules, logins, the rate limit, tokens."""

import hashlib
import logging
from datetime import timedelta

import pytest
from testkit import PASSWORD

from notes.services.accounts import (
    _DUMMY_PASSWORD,
    PURGE_BATCH,
    TOKEN_LENGTH,
    TOKEN_PREFIX,
    AccountsService,
    token_hash,
)
from notes.services.errors import (
    EmailTakenError,
    InvalidCredentialsError,
    InvalidTokenError,
    TokenNotFoundError,
    TooManyLoginAttemptsError,
    WeakPasswordError,
)
from notes.services.passwords import MAX_LENGTH, MIN_LENGTH


@pytest.fixture
def accounts(memory_db, fast_hasher, token_reader, clock):
    return AccountsService(
        memory_db.unit_of_work,
        hasher=fast_hasher,
        tokens=token_reader,
        clock=clock,
        cache_seconds=60,
    )


async def _signed_up(accounts, email="ada@example.com"):
    account = await accounts.create_account(email=email, password=PASSWORD)
    issued = await accounts.issue_token(email=email, password=PASSWORD)
    return account, issued


# --- accounts --------------------------------------------------------------------------------


async def test_an_account_keeps_its_email_and_only_a_hash_of_its_password(accounts, memory_db):
    account = await accounts.create_account(email=" Ada@Example.com ", password=PASSWORD)
    assert account.email == "Ada@Example.com"
    [stored] = memory_db.users.values()
    assert (stored.id, stored.email_key) == (account.id, "ada@example.com")
    assert PASSWORD not in stored.password_hash
    assert not hasattr(account, "password_hash")


async def test_an_email_is_taken_whatever_its_case(accounts, memory_db):
    await accounts.create_account(email="ada@example.com", password=PASSWORD)
    with pytest.raises(EmailTakenError):
        await accounts.create_account(email="ADA@example.COM", password=PASSWORD)
    assert len(memory_db.users) == 1


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("x" * (MIN_LENGTH - 1), "it must have at least 12 characters"),
        ("y" * (MAX_LENGTH + 1), "it must have at most 128 characters"),
        ("Password1234", "it is one of the most commonly used passwords"),
        ("QWERTYUIOPASDFGH", "it is one of the most commonly used passwords"),
        ("aaaaaaaaaaaaaaaa", "it is one character repeated"),
        ("ada.lovelace@example.com", "it is the account's email"),
        ("ADA.lovelace", "it is the account's email"),
    ],
)
async def test_weak_passwords_are_refused_and_nothing_is_stored(
    accounts, memory_db, fast_hasher, password, reason
):
    with pytest.raises(WeakPasswordError) as refused:
        await accounts.create_account(email="ada.lovelace@example.com", password=password)
    assert refused.value.reason == reason
    assert memory_db.users == {}


async def test_passwords_at_the_length_bounds_are_accepted(accounts):
    await accounts.create_account(email="a@example.com", password="k" * (MIN_LENGTH - 1) + "j")
    await accounts.create_account(email="b@example.com", password="m" * (MAX_LENGTH - 1) + "n")


# --- logging in ------------------------------------------------------------------------------


async def test_a_token_is_random_shown_once_and_stored_as_its_hash(accounts, memory_db, clock):
    _, issued = await _signed_up(accounts)
    _, again = await _signed_up(accounts, "grace@example.com")
    assert issued.value.startswith(TOKEN_PREFIX)
    assert len(issued.value) == TOKEN_LENGTH == 46
    assert issued.value != again.value
    stored = memory_db.tokens[issued.info.id]
    assert stored.token_hash == hashlib.sha256(issued.value.encode()).digest()
    assert issued.value.encode() not in stored.token_hash
    assert issued.info.expires_at == issued.info.created_at + timedelta(days=30)


@pytest.mark.parametrize("email", ["ada@example.com", "ADA@EXAMPLE.COM"])
async def test_the_right_password_logs_in_whatever_the_emails_case(accounts, email):
    await accounts.create_account(email="ada@example.com", password=PASSWORD)
    issued = await accounts.issue_token(email=email, password=PASSWORD)
    assert (await accounts.authenticate(issued.value)).token_id == issued.info.id


async def test_a_wrong_password_and_an_unknown_email_cost_one_verification_and_fail_alike(
    accounts, fast_hasher
):
    await accounts.create_account(email="ada@example.com", password=PASSWORD)
    failures = []
    for email, password in [("ada@example.com", "not the password"), ("who@example.com", PASSWORD)]:
        before = fast_hasher.verifications
        with pytest.raises(InvalidCredentialsError) as raised:
            await accounts.issue_token(email=email, password=password)
        failures.append((fast_hasher.verifications - before, str(raised.value)))
    assert failures[0] == failures[1] == (1, "the email or the password is wrong")
    # The unknown email was checked against a hash made as real ones are, not an empty one.
    unknown_against = fast_hasher.verified_against[-1]
    assert unknown_against.startswith("fake$1$")
    assert not fast_hasher.needs_rehash(unknown_against)


async def test_an_unknown_email_is_checked_against_one_dummy_hash_made_once(accounts, fast_hasher):
    for _ in range(2):
        with pytest.raises(InvalidCredentialsError):
            await accounts.issue_token(email="who@example.com", password=PASSWORD)
    assert len(set(fast_hasher.verified_against)) == 1


async def test_an_account_without_a_password_cannot_log_in(accounts, memory_db):
    account = await accounts.create_account(email="ada@example.com", password=PASSWORD)
    memory_db.users[account.id].password_hash = None
    # Not with its old password, nor with the password the unknown emails are checked against.
    for password in (PASSWORD, _DUMMY_PASSWORD):
        with pytest.raises(InvalidCredentialsError):
            await accounts.issue_token(email="ada@example.com", password=password)


async def test_after_five_failures_logins_wait_until_the_oldest_leaves_the_window(
    accounts, clock, fast_hasher, memory_db
):
    await accounts.create_account(email="ada@example.com", password=PASSWORD)
    start = clock.now
    for _ in range(5):
        with pytest.raises(InvalidCredentialsError):
            await accounts.issue_token(email="Ada@example.com", password="guess guess guess")
    verifications = fast_hasher.verifications
    with pytest.raises(TooManyLoginAttemptsError) as refused:
        await accounts.issue_token(email="ada@example.com", password=PASSWORD)
    assert fast_hasher.verifications == verifications  # refused before any hashing
    # Until the first failure (a few clock readings after start) is 15 minutes old.
    assert 890 <= refused.value.retry_after <= 900
    [first_failure, *_] = memory_db.login_failures.values()
    waited = first_failure[1] + timedelta(minutes=15) - clock.now  # read once, by the refusal
    assert refused.value.retry_after == int(waited.total_seconds())
    clock.now = start + timedelta(minutes=14)
    with pytest.raises(TooManyLoginAttemptsError):
        await accounts.issue_token(email="ada@example.com", password=PASSWORD)
    clock.now = start + timedelta(minutes=15, seconds=10)
    issued = await accounts.issue_token(email="ada@example.com", password=PASSWORD)
    assert issued.value


async def test_failures_for_one_email_do_not_slow_another_down(accounts):
    await accounts.create_account(email="ada@example.com", password=PASSWORD)
    await accounts.create_account(email="grace@example.com", password=PASSWORD)
    for _ in range(6):
        with pytest.raises((InvalidCredentialsError, TooManyLoginAttemptsError)):
            await accounts.issue_token(email="ada@example.com", password="guess guess guess")
    assert await accounts.issue_token(email="grace@example.com", password=PASSWORD)


async def test_old_failures_are_purged_a_bounded_batch_per_failure(accounts, memory_db, clock):
    for i in range(PURGE_BATCH + 5):
        memory_db.login_failures[-1 - i] = (f"old-{i}", clock.now - timedelta(days=1))
    with pytest.raises(InvalidCredentialsError):
        await accounts.issue_token(email="new@example.com", password="guess guess guess")
    assert len(memory_db.login_failures) == 5 + 1


async def test_expired_tokens_are_purged_a_bounded_batch_per_login(accounts, memory_db, clock):
    await accounts.create_account(email="ada@example.com", password=PASSWORD)
    for _ in range(PURGE_BATCH + 3):
        await accounts.issue_token(email="ada@example.com", password=PASSWORD)
    clock.now += timedelta(days=31)
    await accounts.issue_token(email="ada@example.com", password=PASSWORD)
    assert len(memory_db.tokens) == 3 + 1


async def test_old_failures_are_purged_as_new_ones_come(accounts, memory_db, clock):
    for _ in range(3):
        with pytest.raises(InvalidCredentialsError):
            await accounts.issue_token(email="old@example.com", password="guess guess guess")
    clock.now += timedelta(hours=1)
    with pytest.raises(InvalidCredentialsError):
        await accounts.issue_token(email="new@example.com", password="guess guess guess")
    assert [key for key, _ in memory_db.login_failures.values()] == ["new@example.com"]


async def test_a_hash_made_with_older_parameters_is_renewed_at_login(
    accounts, memory_db, fast_hasher
):
    account = await accounts.create_account(email="ada@example.com", password=PASSWORD)
    fast_hasher.version = "2"
    await accounts.issue_token(email="ada@example.com", password=PASSWORD)
    assert memory_db.users[account.id].password_hash.startswith("fake$2$")
    assert await accounts.issue_token(email="ada@example.com", password=PASSWORD)


async def test_expired_tokens_are_purged_at_the_next_login(accounts, memory_db, clock):
    _, old = await _signed_up(accounts)
    clock.now += timedelta(days=31)
    await accounts.issue_token(email="ada@example.com", password=PASSWORD)
    assert old.info.id not in memory_db.tokens
    assert len(memory_db.tokens) == 1


# --- knowing who a request acts for ----------------------------------------------------------


@pytest.mark.parametrize(
    "value", [None, "", "nt_short", "xx_" + "a" * 43, TOKEN_PREFIX + "a" * 43 + "é"]
)
async def test_a_missing_or_malformed_token_is_refused_without_a_lookup(
    accounts, token_reader, value
):
    with pytest.raises(InvalidTokenError):
        await accounts.authenticate(value)
    assert token_reader.lookups == 0


async def test_an_unknown_token_is_refused(accounts, token_reader):
    with pytest.raises(InvalidTokenError):
        await accounts.authenticate(TOKEN_PREFIX + "A" * 43)
    assert token_reader.lookups == 1


async def test_a_known_token_is_looked_up_once_per_cache_period(
    accounts, token_reader, memory_db, clock
):
    account, issued = await _signed_up(accounts)
    for _ in range(3):
        principal = await accounts.authenticate(issued.value)
    assert (principal.user_id, principal.token_id) == (account.id, issued.info.id)
    assert token_reader.lookups == 1
    assert memory_db.tokens[issued.info.id].last_used_at is not None


async def test_an_expired_token_is_refused_even_when_remembered(accounts, clock):
    _, issued = await _signed_up(accounts)
    await accounts.authenticate(issued.value)
    clock.now += timedelta(days=30)
    with pytest.raises(InvalidTokenError):
        await accounts.authenticate(issued.value)


async def test_a_token_is_refused_from_the_instant_it_expires(
    memory_db, fast_hasher, token_reader, accounts
):
    _, issued = await _signed_up(accounts)
    at_expiry = AccountsService(
        memory_db.unit_of_work,
        hasher=fast_hasher,
        tokens=token_reader,
        clock=lambda: issued.info.expires_at,
    )
    at_expiry._known[token_hash(issued.value)] = await accounts.authenticate(issued.value)
    with pytest.raises(InvalidTokenError):
        await at_expiry.authenticate(issued.value)


async def test_a_revoked_token_is_refused_at_once_by_the_process_that_revoked_it(accounts):
    _, issued = await _signed_up(accounts)
    principal = await accounts.authenticate(issued.value)
    await accounts.revoke_token(principal, principal.token_id)
    with pytest.raises(InvalidTokenError):
        await accounts.authenticate(issued.value)


async def test_another_process_honours_a_revoked_token_only_until_its_cache_expires(
    memory_db, fast_hasher, token_reader, accounts, clock
):
    elsewhere = AccountsService(
        memory_db.unit_of_work,
        hasher=fast_hasher,
        tokens=token_reader,
        cache_seconds=60,
        clock=clock,
    )
    _, issued = await _signed_up(accounts)
    await elsewhere.authenticate(issued.value)
    principal = await accounts.authenticate(issued.value)
    await accounts.revoke_token(principal, principal.token_id)
    assert await elsewhere.authenticate(issued.value)  # remembered, within the bound
    elsewhere._known.expire(elsewhere._known.timer() + 61)  # the bound passes
    with pytest.raises(InvalidTokenError):
        await elsewhere.authenticate(issued.value)


async def test_tokens_are_listed_newest_first_without_their_values(accounts, clock):
    _, first = await _signed_up(accounts)
    second = await accounts.issue_token(email="ada@example.com", password=PASSWORD)
    principal = await accounts.authenticate(second.value)
    listed = await accounts.list_tokens(principal)
    assert [t.id for t in listed] == [second.info.id, first.info.id]
    assert all(not hasattr(t, "value") and not hasattr(t, "token_hash") for t in listed)


async def test_a_token_of_another_account_cannot_be_revoked(accounts):
    _, ada = await _signed_up(accounts)
    _, grace = await _signed_up(accounts, "grace@example.com")
    principal = await accounts.authenticate(ada.value)
    with pytest.raises(TokenNotFoundError) as refused:
        await accounts.revoke_token(principal, grace.info.id)
    assert refused.value.token_id == grace.info.id
    assert await accounts.authenticate(grace.value)


async def test_the_account_of_a_request(accounts):
    account, issued = await _signed_up(accounts)
    principal = await accounts.authenticate(issued.value)
    assert await accounts.get_account(principal) == account


async def test_an_operator_sets_a_password_the_account_then_logs_in_with(accounts):
    await accounts.create_account(email="ada@example.com", password=PASSWORD)
    await accounts.set_password(email="ADA@example.com", password="another fine password")
    with pytest.raises(InvalidCredentialsError):
        await accounts.issue_token(email="ada@example.com", password=PASSWORD)
    assert await accounts.issue_token(email="ada@example.com", password="another fine password")
    with pytest.raises(InvalidCredentialsError):
        await accounts.set_password(email="who@example.com", password="another fine password")
    with pytest.raises(WeakPasswordError):
        await accounts.set_password(email="ada@example.com", password="short")
    with pytest.raises(WeakPasswordError, match="the account's email"):
        await accounts.set_password(email="ada.lovelace@example.com", password="ada.lovelace")


async def test_no_password_reaches_a_log_line(accounts, caplog):
    with caplog.at_level(logging.DEBUG):
        await _signed_up(accounts)
        with pytest.raises(InvalidCredentialsError):
            await accounts.issue_token(email="ada@example.com", password="a wrong password!")
    assert PASSWORD not in caplog.text
    assert "a wrong password!" not in caplog.text


def test_a_token_hash_is_the_sha256_of_its_value():
    assert token_hash("nt_x") == hashlib.sha256(b"nt_x").digest()
