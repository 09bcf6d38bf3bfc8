"""Accounts over the SQLite store, with a cheap argon2 hasher so the tests stay fast."""

from collections.abc import Iterator
from pathlib import Path
from typing import Literal

import pytest
from argon2 import PasswordHasher

from exchange.services.accounts import SESSION_TTL_MS, AccountError, Accounts
from exchange.store.port import ApiKey, Session, Store
from exchange.store.sqlite import SqliteStore

PASSWORD = "correct horse"


def cheap(time_cost: int = 1) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=8, parallelism=1)


class CountingHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    store = SqliteStore(tmp_path / "store.sqlite")
    yield store
    store.close()


@pytest.fixture
def accounts(store: Store) -> Accounts:
    return Accounts(store, cheap())


# ---- passwords ----------------------------------------------------------------------

def test_a_registered_user_verifies_with_their_password(accounts: Accounts) -> None:
    assert accounts.register(PASSWORD, now=1) == 1
    assert accounts.register("another password", now=2) == 2
    assert accounts.verify(1, PASSWORD)
    assert accounts.verify(2, "another password")


def test_a_wrong_password_fails(accounts: Accounts) -> None:
    user = accounts.register(PASSWORD, now=1)
    assert not accounts.verify(user, "wrong horse")
    assert not accounts.verify(user, PASSWORD.upper())


def test_an_unknown_user_fails_after_a_full_verification(store: Store) -> None:
    hasher = CountingHasher()
    accounts = Accounts(store, hasher)
    assert not accounts.verify(1, PASSWORD)
    assert not accounts.verify(-5, PASSWORD)
    assert hasher.verified == 2  # as long as for a user that exists


def test_an_outdated_hash_is_replaced_on_log_in(store: Store) -> None:
    user = Accounts(store, cheap(time_cost=1)).register(PASSWORD, now=1)
    old = store.password_hash(user)
    stronger = Accounts(store, cheap(time_cost=2))
    assert not stronger.verify(user, "wrong horse")
    assert store.password_hash(user) == old
    assert stronger.verify(user, PASSWORD)
    new = store.password_hash(user)
    assert new is not None and new != old and ",t=2," in new
    assert stronger.verify(user, PASSWORD)
    assert store.password_hash(user) == new


@pytest.mark.parametrize("password", ["", "short12", "x" * 129])
def test_passwords_must_be_8_to_128_characters(accounts: Accounts, password: str) -> None:
    with pytest.raises(AccountError, match="password must be 8 to 128 characters"):
        accounts.register(password, now=1)
    assert not accounts.verify(1, password)


def test_passwords_at_the_limits_are_accepted(accounts: Accounts) -> None:
    for password in ("8 chars!", "é" * 128):
        user = accounts.register(password, now=1)
        assert accounts.verify(user, password)


def test_a_password_that_is_not_text_is_refused(accounts: Accounts) -> None:
    with pytest.raises(AccountError):
        accounts.register(b"bytes password", now=1)  # type: ignore[arg-type]


# ---- sessions -----------------------------------------------------------------------

def test_a_session_lasts_seven_days_by_default(accounts: Accounts) -> None:
    token, csrf = accounts.open_session(3, now=1000)
    assert token != csrf
    expected = Session(user=3, csrf=csrf, expires=1000 + SESSION_TTL_MS)
    assert accounts.session(token, now=1000) == expected
    assert accounts.session(token, now=1000 + SESSION_TTL_MS - 1) == expected
    assert accounts.session(token, now=1000 + SESSION_TTL_MS) is None


def test_a_session_with_a_short_ttl_expires_early(accounts: Accounts) -> None:
    token, _ = accounts.open_session(3, now=0, ttl_ms=60_000)
    assert accounts.session(token, now=59_999) is not None
    assert accounts.session(token, now=60_000) is None


def test_a_closed_session_is_gone(accounts: Accounts) -> None:
    first, _ = accounts.open_session(1, now=0)
    second, _ = accounts.open_session(1, now=0)
    accounts.close_session(first)
    accounts.close_session("never issued")
    accounts.close_session("ünicode")
    assert accounts.session(first, now=1) is None
    assert accounts.session(second, now=1) is not None


def test_unknown_tokens_have_no_session(accounts: Accounts) -> None:
    token, _ = accounts.open_session(1, now=0)
    for other in ("", token[:-1], token + "x", "ü" + token):
        assert accounts.session(other, now=1) is None


# ---- API keys -----------------------------------------------------------------------

def test_an_api_key_authenticates_its_user(accounts: Accounts) -> None:
    text, key = accounts.create_api_key(7, "trading bot", now=50)
    assert key == ApiKey(key_id=key.key_id, user=7, label="trading bot", created=50)
    assert len(key.key_id) == 16 and text.startswith(key.key_id + ".")
    assert accounts.authenticate_key(text) == 7


def test_a_wrong_secret_fails(accounts: Accounts) -> None:
    text, key = accounts.create_api_key(7, "", now=50)
    secret = text.split(".", 1)[1]
    assert accounts.authenticate_key(f"{key.key_id}.{secret[:-1]}") is None
    assert accounts.authenticate_key(f"{key.key_id}.{secret}x") is None
    other, _ = accounts.create_api_key(8, "", now=50)
    assert accounts.authenticate_key(f"{key.key_id}.{other.split('.', 1)[1]}") is None


@pytest.mark.parametrize("text", ["", ".", "abc", "abc.", ".secret", "0123456789abcdef",
                                  "ü.secret", "0123456789abcdef.sécret"])
def test_malformed_keys_fail(accounts: Accounts, text: str) -> None:
    accounts.create_api_key(7, "", now=50)
    assert accounts.authenticate_key(text) is None


def test_a_revoked_key_fails(accounts: Accounts) -> None:
    text, key = accounts.create_api_key(7, "", now=50)
    assert accounts.revoke_key(7, key.key_id) is True
    assert accounts.authenticate_key(text) is None
    assert accounts.revoke_key(7, key.key_id) is False


def test_another_user_cannot_revoke_a_key(accounts: Accounts) -> None:
    text, key = accounts.create_api_key(7, "", now=50)
    assert accounts.revoke_key(8, key.key_id) is False
    assert accounts.authenticate_key(text) == 7
    assert accounts.api_keys(7) == [key]


def test_keys_are_listed_per_user_oldest_first(accounts: Accounts) -> None:
    _, first = accounts.create_api_key(7, "a", now=10)
    _, theirs = accounts.create_api_key(8, "b", now=15)
    _, second = accounts.create_api_key(7, "c", now=20)
    assert accounts.api_keys(7) == [first, second]
    assert accounts.api_keys(8) == [theirs]
    assert accounts.api_keys(9) == []


def test_labels_are_at_most_64_characters(accounts: Accounts) -> None:
    _, key = accounts.create_api_key(7, "é" * 64, now=1)
    assert key.label == "é" * 64
    with pytest.raises(AccountError, match="label must be at most 64 characters"):
        accounts.create_api_key(7, "x" * 65, now=1)
    with pytest.raises(AccountError):
        accounts.create_api_key(7, None, now=1)  # type: ignore[arg-type]
    assert accounts.api_keys(7) == [key]


# ---- what the store holds -----------------------------------------------------------

def test_the_store_never_holds_a_plain_token_or_secret(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "store.sqlite")
    accounts = Accounts(store, cheap())
    user = accounts.register(PASSWORD, now=1)
    token, csrf = accounts.open_session(user, now=1)
    text, _ = accounts.create_api_key(user, "bot", now=1)
    store.close()
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert csrf.encode() in stored  # the search does see what is stored in plain text
    for plain in (token, text.split(".", 1)[1], PASSWORD):
        assert plain.encode() not in stored
