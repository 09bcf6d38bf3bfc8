"""Accounts: sign-up, log-in, sessions and API keys, over the store port.

No web framework here: the gateway calls these methods and maps AccountError to a 400.
Time is passed in (`now`, in ms); randomness comes from `secrets`.

Why two kinds of hash
    Passwords are chosen by people and are guessable, so a stolen store must make every
    guess expensive: they are hashed with argon2id (memory-hard, salted), and rehashed on
    log-in when the hasher's parameters have changed. Session tokens and API key secrets
    are 256 random bits from `secrets`: no one can guess them, however fast the hash, so
    the store keeps only their sha256, which is cheap to check on every request and
    useless to whoever steals it.

Timing
    `verify` spends about one argon2 verification whether or not the user exists (an
    unknown user is checked against a dummy hash), so its time does not tell which ids
    exist. A key's secret is compared with `hmac.compare_digest`. Key ids are not
    secret (they are listed to their owner and sent with every request), so looking one
    up may take different times for known and unknown ids.

Formats
    A session token and its CSRF token are `secrets.token_urlsafe(32)`. An API key is
    `"{key_id}.{secret}"`: 16 hex digits, a dot, then `secrets.token_urlsafe(32)` (which
    has no dots).
"""

import hashlib
import hmac
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError

from exchange.store.port import ApiKey, Session, Store

SESSION_TTL_MS = 7 * 24 * 3_600_000
PASSWORD_MIN, PASSWORD_MAX = 8, 128
LABEL_MAX = 64


class AccountError(ValueError):
    """A request the accounts service refuses; the message can be shown to the user."""


class Accounts:
    def __init__(self, store: Store, hasher: PasswordHasher | None = None) -> None:
        self._store = store
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_urlsafe(32))

    # ---- passwords ------------------------------------------------------------------

    def register(self, password: str, now: int) -> int:
        """Create a user with this password; return the new user id."""
        if not _valid_password(password):
            raise AccountError(f"password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters")
        return self._store.create_user(self._hasher.hash(password), now)

    def verify(self, user: int, password: str) -> bool:
        """Return whether `password` is the user's; False for an unknown user."""
        if not _valid_password(password):
            return False  # could never have been registered
        stored = self._store.password_hash(user)
        try:
            self._hasher.verify(stored or self._dummy, password)
        except VerificationError:
            return False
        if stored is None:
            return False
        if self._hasher.check_needs_rehash(stored):
            self._store.set_password_hash(user, self._hasher.hash(password))
        return True

    # ---- sessions -------------------------------------------------------------------

    def open_session(self, user: int, now: int,
                     ttl_ms: int = SESSION_TTL_MS) -> tuple[str, str]:
        """Start a session for `user`; return (session token, CSRF token)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        self._store.create_session(_digest(token), user, csrf, now + ttl_ms)
        return token, csrf

    def session(self, token: str, now: int) -> Session | None:
        """Return the session of `token`, None if it is unknown, expired or malformed."""
        if not token.isascii():
            return None
        return self._store.session(_digest(token), now)

    def close_session(self, token: str) -> None:
        """End the session of `token` (log out); do nothing if there is none."""
        if token.isascii():
            self._store.delete_session(_digest(token))

    # ---- API keys -------------------------------------------------------------------

    def create_api_key(self, user: int, label: str, now: int) -> tuple[str, ApiKey]:
        """Create a key for `user`; return its full text (shown once) and its public part."""
        if not isinstance(label, str) or len(label) > LABEL_MAX:
            raise AccountError(f"label must be at most {LABEL_MAX} characters")
        secret = secrets.token_urlsafe(32)
        key = ApiKey(key_id=secrets.token_hex(8), user=user, label=label, created=now)
        self._store.create_api_key(key, _digest(secret))
        return f"{key.key_id}.{secret}", key

    def authenticate_key(self, key: str) -> int | None:
        """Return the user a key belongs to, None if it is malformed, unknown or wrong."""
        key_id, dot, secret = key.partition(".")
        if not (dot and key_id and secret and key.isascii()):
            return None
        found = self._store.api_key(key_id)
        if found is None:
            return None
        stored, secret_hash = found
        return stored.user if hmac.compare_digest(_digest(secret), secret_hash) else None

    def api_keys(self, user: int) -> list[ApiKey]:
        """Return the user's keys, oldest first."""
        return self._store.api_keys(user)

    def revoke_key(self, user: int, key_id: str) -> bool:
        """Delete the user's key; return False if the user has no such key."""
        return self._store.delete_api_key(user, key_id)


def _valid_password(password: str) -> bool:
    return isinstance(password, str) and PASSWORD_MIN <= len(password) <= PASSWORD_MAX


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()
