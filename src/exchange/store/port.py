"""The store port: what the exchange keeps besides the message journal.

Users and their password hashes, login sessions, API keys, id sequences and snapshots.
Balances and orders are not here: they live in the journal on the bus, and the services
rebuild them by replay. The tests in tests/store/contract.py run against every
implementation.

Time
    The store has no clock. Every call that depends on time takes `now` (or an absolute
    `expires`) in milliseconds since the epoch, so tests and replays decide the time.

Ids
    User ids count up from 1 and are never handed out twice, even across restarts.
    `allocate` reserves blocks of a named sequence the same way; a gateway takes order
    ids a block at a time so it does not call the store per order.

Secrets
    The store only ever sees hashes: argon2 hashes of passwords, and sha256 digests of
    session tokens and API key secrets (see exchange.services.accounts for why).

Concurrency and errors
    Every method is synchronous and safe to call from several threads at once. A failure
    of the backend (and any call after `close`) raises StoreError.
"""

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Session:
    """A login session; valid while `now < expires`."""

    user: int
    csrf: str
    expires: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    """The public part of an API key. What verifies it is kept beside it (see
    `services.accounts`): a digest of its secret, its secret sealed, or a public key."""

    key_id: str
    user: int
    label: str
    created: int
    kind: str = "bearer"  # bearer (our API), hmac or ed25519 (signed, as Binance's)
    permissions: str = "trade"  # trade (and read), or read


class StoreError(Exception):
    """The store failed; the message says what the implementation reported."""


class Store(ABC):
    # ---- users ----------------------------------------------------------------------

    @abstractmethod
    def create_user(self, password_hash: str, now: int) -> int:
        """Allocate the next user id (1, 2, 3, ..., never reused), store its hash, return it."""

    @abstractmethod
    def password_hash(self, user: int) -> str | None:
        """Return the user's password hash, None for an unknown user."""

    @abstractmethod
    def set_password_hash(self, user: int, password_hash: str) -> None:
        """Replace the user's password hash; do nothing for an unknown user."""

    # ---- sessions -------------------------------------------------------------------

    @abstractmethod
    def create_session(self, token_hash: bytes, user: int, csrf: str, expires: int) -> None:
        """Store a session under its token's digest; a digest already stored is refused."""

    @abstractmethod
    def session(self, token_hash: bytes, now: int) -> Session | None:
        """Return the session, None if unknown or expired (an expired one may be deleted)."""

    @abstractmethod
    def delete_session(self, token_hash: bytes) -> None:
        """Forget the session; do nothing if it is unknown."""

    # ---- API keys -------------------------------------------------------------------

    @abstractmethod
    def create_api_key(self, key: ApiKey, verifier: bytes) -> None:
        """Store a key with what verifies it; a key id already stored is refused."""

    @abstractmethod
    def api_key(self, key_id: str) -> tuple[ApiKey, bytes] | None:
        """Return the key and what verifies it, None if unknown."""

    @abstractmethod
    def api_keys(self, user: int) -> list[ApiKey]:
        """Return the user's keys, oldest first."""

    @abstractmethod
    def delete_api_key(self, user: int, key_id: str) -> bool:
        """Delete the user's key; return False (and delete nothing) if it is not theirs."""

    # ---- id sequences ---------------------------------------------------------------

    @abstractmethod
    def allocate(self, name: str, count: int) -> int:
        """Reserve `count` fresh consecutive ids of sequence `name`; return the first.

        Sequences start at 1. An id is never handed out twice, across restarts too.
        Raise ValueError if `count` < 1.
        """

    # ---- leases ---------------------------------------------------------------------

    @abstractmethod
    def claim(self, name: str, holder: str, now: int, ttl_ms: int) -> bool:
        """Hold lease `name` until `now` + `ttl_ms` if it is free, expired or `holder`'s
        already (which renews it); return whether `holder` holds it now.

        For names that one live process at a time may use. `now` is in milliseconds;
        a store with a clock of its own (Redis) may use that instead.
        """

    @abstractmethod
    def release(self, name: str, holder: str) -> None:
        """Give lease `name` up, if `holder` holds it."""

    # ---- failure counts -------------------------------------------------------------

    @abstractmethod
    def fail(self, name: str, now: int, ttl_ms: int) -> int:
        """Count one more failure of `name`, kept until `ttl_ms` after this one (a count
        whose time ran out starts again at 1); return the count.

        For log-in lockouts, which every gateway must see alike. `now` is in
        milliseconds; a store with a clock of its own (Redis) may use that instead.
        """

    @abstractmethod
    def failures(self, name: str, now: int) -> tuple[int, int]:
        """Return `name`'s failure count and for how many milliseconds it is kept yet;
        (0, 0) if none is kept."""

    @abstractmethod
    def forget_failures(self, name: str) -> None:
        """Drop `name`'s failure count."""

    # ---- snapshots ------------------------------------------------------------------

    @abstractmethod
    def save_snapshot(self, name: str, data: bytes) -> None:
        """Store `data` under `name`, replacing what was there."""

    @abstractmethod
    def load_snapshot(self, name: str) -> bytes | None:
        """Return the snapshot saved under `name`, None if there is none."""

    @abstractmethod
    def close(self) -> None: ...
