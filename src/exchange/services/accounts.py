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
    A session token and its CSRF token are `secrets.token_urlsafe(32)`. A bearer API key
    (our `/api/v1`) is `"{key_id}.{secret}"`: 16 hex digits, a dot, then
    `secrets.token_urlsafe(32)` (which has no dots).

Signing keys (Binance's API, `exchange.binance`)
    A program sends the key id in a header and signs each request. An `hmac` key's
    secret (64 hex digits) is shown once and kept sealed (`sealing`): verifying an
    HMAC needs the secret itself. An `ed25519` key is the user's own public key; the
    store keeps it, and the private key never leaves the user. Their ids are 64 hex
    digits, as Binance's are. A key may `trade` (and read) or only `read`.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from exchange.services.sealing import Sealer, SealError
from exchange.store.port import ApiKey, Session, Store

SESSION_TTL_MS = 7 * 24 * 3_600_000
PASSWORD_MIN, PASSWORD_MAX = 8, 128
LABEL_MAX = 64


SIGNING_KINDS = ("hmac", "ed25519")
PERMISSIONS = ("trade", "read")


class AccountError(ValueError):
    """A request the accounts service refuses; the message can be shown to the user."""


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A signing key as a request is checked against it: who, may what, and with what."""

    key: ApiKey
    secret: bytes | None  # an hmac key's secret
    public: Ed25519PublicKey | None  # an ed25519 key


class Accounts:
    def __init__(self, store: Store, hasher: PasswordHasher | None = None,
                 sealer: Sealer | None = None) -> None:
        self._store = store
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash(secrets.token_urlsafe(32))
        self._sealer = sealer  # without one, no hmac keys can be made or used

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
        if found is None or found[0].kind != "bearer":
            return None
        stored, secret_hash = found
        return stored.user if hmac.compare_digest(_digest(secret), secret_hash) else None

    def create_signing_key(self, user: int, label: str, kind: str, permissions: str,
                           public_key: str, now: int) -> tuple[str, ApiKey]:
        """Make a key for signed requests; return its secret (an hmac key's, shown once;
        "" for an ed25519 key, whose public key the user gave) and the key."""
        if not isinstance(label, str) or len(label) > LABEL_MAX:
            raise AccountError(f"label must be at most {LABEL_MAX} characters")
        if kind not in SIGNING_KINDS:
            raise AccountError(f"kind must be one of {', '.join(SIGNING_KINDS)}")
        if permissions not in PERMISSIONS:
            raise AccountError(f"permissions must be one of {', '.join(PERMISSIONS)}")
        key = ApiKey(key_id=secrets.token_hex(32), user=user, label=label, created=now,
                     kind=kind, permissions=permissions)
        if kind == "hmac":
            if self._sealer is None:
                raise AccountError("this server has no sealing key: it cannot keep hmac keys")
            secret = secrets.token_hex(32)
            verifier = self._sealer.seal(secret.encode(), key.key_id.encode())
        else:
            secret = ""
            verifier = _ed25519_raw(public_key)
        self._store.create_api_key(key, verifier)
        return secret, key

    def signing_key(self, key_id: str) -> SigningKey | None:
        """Return the signing key with this id, None if there is none (or it is revoked)."""
        if not (key_id.isascii() and key_id.isalnum() and len(key_id) <= 128):
            return None
        found = self._store.api_key(key_id)
        if found is None:
            return None
        key, verifier = found
        if key.kind == "hmac" and self._sealer is not None:
            try:
                return SigningKey(key, self._sealer.open(verifier, key_id.encode()), None)
            except SealError:
                return None  # sealed under another sealing key: unusable here
        if key.kind == "ed25519":
            return SigningKey(key, None, Ed25519PublicKey.from_public_bytes(verifier))
        return None

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


def _ed25519_raw(public_key: str) -> bytes:
    """Return the 32 raw bytes of an Ed25519 public key given in PEM."""
    try:
        key = load_pem_public_key(public_key.strip().encode())
    except (ValueError, TypeError, AttributeError):
        raise AccountError("public_key must be an Ed25519 public key in PEM") from None
    if not isinstance(key, Ed25519PublicKey):
        raise AccountError("public_key must be an Ed25519 public key in PEM")
    return key.public_bytes_raw()
