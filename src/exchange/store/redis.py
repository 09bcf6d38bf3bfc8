"""The store on a Redis server, shared by every process of an exchange.

Key layout (`P` is the namespace followed by a colon, or nothing for the empty namespace;
several exchanges, and every test, share one server under different namespaces):

    | key                     | type    | contents                                       |
    |-------------------------|---------|------------------------------------------------|
    | P users:last            | string  | the last user id handed out (INCR)             |
    | P user:{id}             | hash    | hash (argon2), created                         |
    | P session:{digest}      | hash    | user, csrf, expires; a TTL (PEXPIREAT)         |
    | P apikey:{key id}       | hash    | user, label, created, secret (the digest)      |
    | P apikeys:{user}        | list    | the user's key ids in creation order           |
    | P seq:{name}            | string  | the last id of sequence `name` handed out      |
    | P snapshot:{name}       | string  | the snapshot's bytes                           |

Session digests are raw bytes inside the key; every other part is UTF-8 text.

Atomicity
    Redis runs each command and each Lua script alone. `create_user` is one script (INCR
    the counter, then write the hash under the new id), so an id is never seen without
    its hash. `create_session` and `create_api_key` are scripts that check that the key
    is absent and write it (and, for a key, push its id on the user's list) in one step;
    `delete_api_key` is a script that deletes only if the stored owner matches, and
    removes the id from the owner's list with it; `set_password_hash` is a script that
    writes only if the user exists; `api_keys` reads the list and the keys in one script.
    `allocate` is one INCRBY, snapshots one SET or GET. The AOF records a script's writes
    inside MULTI/EXEC, and on load Redis drops a transaction the crash cut short, so a
    crash leaves every operation whole or absent. `session` is one HMGET; an expired
    session is then deleted with DEL, which cannot remove a live session because a
    digest is stored once and a dead session's digest is never used again.

Sessions and clocks
    Validity is decided by the caller's clock alone: `session` compares `now` with the
    stored `expires`. The TTL only collects dead sessions: the key is dropped, by the
    server's clock, `SKEW_MS` after max(expires, the server's time at creation). Clocks
    that differ by less than `SKEW_MS` therefore never lose a live session; a caller
    whose clock runs behind the server's by more (or a test that pretends it is 1970)
    can see a session vanish early, as soon as `SKEW_MS` after its creation.

Durability
    Redis must run with `appendonly yes` and `maxmemory-policy noeviction` (an evicted
    counter would hand ids out again). scripts/redis.sh does both and sets `appendfsync`
    from REDIS_FSYNC, `everysec` unless told otherwise (the tests use that). Redis writes
    the AOF to the kernel before it replies, so:
    - `always`: fsync before every reply; an acknowledged write survives a power cut.
      One thread's writes then wait for one fsync each (about 2k/s measured here, against
      5k/s with `everysec`); concurrent clients share an fsync per event-loop turn.
    - `everysec` (the scripts' default): a killed Redis process loses nothing it
      acknowledged, except when the disk is so slow that Redis postponed a write behind
      a running fsync (up to 2 s); a power cut or kernel crash loses the last 1-2 s.
    - `no`: the kernel decides when to write back (about 30 s on Linux).
    A lost write can roll back `users:last` or a sequence, and then ids already handed
    out are handed out again; for the contract's "never reused" across a machine crash,
    run with `appendfsync always`.

Errors
    Every Redis error (connection refused or lost, timeout, a wrong reply, an out of
    memory refusal) becomes StoreError. redis-py's automatic retries are off: a retried
    INCRBY or create could apply twice, so a command is sent at most once, and a reply
    lost on the way leaves it unknown whether it was applied. A connection the server
    closed while idle in the pool is replaced before use, so a Redis restart costs no
    error. The constructor pings the server and raises StoreError if it cannot.

Cost
    Every method is one round trip (a script runs from its cached digest, EVALSHA;
    `session` takes a second one to delete a session it finds expired).
    Measured on this 2-core machine over loopback, where a round trip is about 0.1 ms:
    about 5.5k calls/s from one thread for `allocate` and `session` alike, within 10 %
    of bare redis-py; threads add little (the GIL). A gateway allocates ids in blocks.

Known limits
    One server (or a primary with asynchronous replicas: a failover can lose acknowledged
    writes, and ids with them). Not Redis Cluster: scripts touch keys they compute.
    Snapshots are single strings, at most 512 MB. `api_keys` is O(keys of the user);
    `delete_api_key` removes from a list, O(keys of the user).
"""

import re
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from exchange.store.port import ApiKey, Session, Store, StoreError

SKEW_MS = 5 * 60_000
TIMEOUT_S = 10.0
_NAMESPACE = re.compile(r"[A-Za-z0-9_.-]*")

_CREATE_USER = """
local id = redis.call('INCR', KEYS[1])
redis.call('HSET', ARGV[1] .. id, 'hash', ARGV[2], 'created', ARGV[3])
return id
"""

_SET_PASSWORD_HASH = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'hash', ARGV[1])
return 1
"""

_CREATE_SESSION = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'csrf', ARGV[2], 'expires', ARGV[3])
local time = redis.call('TIME')
local server_ms = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local drop_at = math.max(tonumber(ARGV[3]), server_ms) + tonumber(ARGV[4])
redis.call('PEXPIREAT', KEYS[1], string.format('%d', drop_at))
return 1
"""

_CREATE_API_KEY = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'user', ARGV[1], 'label', ARGV[2], 'created', ARGV[3],
           'secret', ARGV[4], 'kind', ARGV[6], 'permissions', ARGV[7])
redis.call('RPUSH', KEYS[2], ARGV[5])
return 1
"""

_API_KEYS = """
local found = {}
for _, id in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  local key = redis.call('HMGET', ARGV[1] .. id, 'label', 'created', 'kind', 'permissions')
  if key[1] then
    found[#found + 1] = id
    found[#found + 1] = key[1]
    found[#found + 1] = key[2]
    found[#found + 1] = key[3] or 'bearer'
    found[#found + 1] = key[4] or 'trade'
  end
end
return found
"""

_DELETE_API_KEY = """
if redis.call('HGET', KEYS[1], 'user') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
redis.call('LREM', KEYS[2], 1, ARGV[2])
return 1
"""
# A lease: its holder's name under a key that expires (PX) unless renewed by the holder.
_CLAIM = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0
"""


def prefix(namespace: str) -> bytes:
    """The prefix of every key of `namespace`; raise ValueError for a malformed one."""
    if not _NAMESPACE.fullmatch(namespace):
        raise ValueError(f"expected a namespace of letters, digits, '_', '.' and '-',"
                         f" got {namespace!r}")
    return f"{namespace}:".encode() if namespace else b""


def connect(url: str) -> redis.Redis:
    """Open a client to the server at `url` and check it answers; raise StoreError if not."""
    try:
        # URL parameters (?socket_timeout=...) override these keyword defaults.
        client = redis.Redis.from_url(
            url, decode_responses=False, socket_timeout=TIMEOUT_S,
            socket_connect_timeout=TIMEOUT_S, retry=Retry(NoBackoff(), 0))
    except ValueError as error:
        raise StoreError(f"cannot open a store at {where(url)}: {error}") from error
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        raise StoreError(f"cannot reach Redis at {where(url)}: {error}") from error
    return client


class RedisStore(Store):
    def __init__(self, url: str, namespace: str = "") -> None:
        self._prefix = prefix(namespace)
        self._closed = False
        self._redis = connect(url)
        self._where = where(url)
        register = self._redis.register_script
        self._create_user = register(_CREATE_USER)
        self._set_password_hash = register(_SET_PASSWORD_HASH)
        self._create_session = register(_CREATE_SESSION)
        self._create_api_key = register(_CREATE_API_KEY)
        self._api_keys = register(_API_KEYS)
        self._delete_api_key = register(_DELETE_API_KEY)
        self._claim = register(_CLAIM)
        self._release = register(_RELEASE)

    def _key(self, kind: str, name: str | int | bytes = b"") -> bytes:
        suffix = name if isinstance(name, bytes) else str(name).encode()
        return self._prefix + kind.encode() + suffix

    @contextmanager
    def _use(self, operation: str) -> Iterator[redis.Redis]:
        """Refuse calls after close and turn Redis errors into StoreError."""
        if self._closed:
            raise StoreError("the store is closed")
        try:
            yield self._redis
        except redis.RedisError as error:
            raise StoreError(f"{operation} failed on {self._where}: {error}") from error

    # ---- users ----------------------------------------------------------------------

    def create_user(self, password_hash: str, now: int) -> int:
        with self._use("create_user"):
            return int(self._create_user(keys=[self._key("users:last")],
                                         args=[self._key("user:"), password_hash, now]))

    def password_hash(self, user: int) -> str | None:
        with self._use("password_hash") as db:
            stored = db.hget(self._key("user:", user), "hash")
            return None if stored is None else _text(stored)

    def set_password_hash(self, user: int, password_hash: str) -> None:
        with self._use("set_password_hash"):
            self._set_password_hash(keys=[self._key("user:", user)], args=[password_hash])

    # ---- sessions -------------------------------------------------------------------

    def create_session(self, token_hash: bytes, user: int, csrf: str, expires: int) -> None:
        with self._use("create_session"):
            created = self._create_session(keys=[self._key("session:", token_hash)],
                                           args=[user, csrf, expires, SKEW_MS])
        if not created:
            raise StoreError("create_session: a session with this digest already exists")

    def session(self, token_hash: bytes, now: int) -> Session | None:
        key = self._key("session:", token_hash)
        with self._use("session") as db:
            user, csrf, expires = db.hmget(key, ["user", "csrf", "expires"])
            if user is None or csrf is None or expires is None:
                return None
            if int(expires) <= now:
                db.delete(key)
                return None
            return Session(user=int(user), csrf=_text(csrf), expires=int(expires))

    def delete_session(self, token_hash: bytes) -> None:
        with self._use("delete_session") as db:
            db.delete(self._key("session:", token_hash))

    # ---- API keys -------------------------------------------------------------------

    def create_api_key(self, key: ApiKey, verifier: bytes) -> None:
        with self._use("create_api_key"):
            created = self._create_api_key(
                keys=[self._key("apikey:", key.key_id), self._key("apikeys:", key.user)],
                args=[key.user, key.label, key.created, verifier, key.key_id, key.kind,
                      key.permissions])
        if not created:
            raise StoreError(f"create_api_key: key id {key.key_id!r} already exists")

    def api_key(self, key_id: str) -> tuple[ApiKey, bytes] | None:
        with self._use("api_key") as db:
            user, label, created, secret, kind, permissions = db.hmget(
                self._key("apikey:", key_id),
                ["user", "label", "created", "secret", "kind", "permissions"])
        if user is None or label is None or created is None or secret is None:
            return None
        # A key stored before keys had kinds is a bearer key that may trade.
        return (ApiKey(key_id=key_id, user=int(user), label=_text(label),
                       created=int(created), kind=_text(kind or b"bearer"),
                       permissions=_text(permissions or b"trade")), _bytes(secret))

    def api_keys(self, user: int) -> list[ApiKey]:
        with self._use("api_keys"):
            flat = self._api_keys(keys=[self._key("apikeys:", user)],
                                  args=[self._key("apikey:")])
        keys = [ApiKey(key_id=_text(flat[i]), user=user, label=_text(flat[i + 1]),
                       created=int(flat[i + 2]), kind=_text(flat[i + 3]),
                       permissions=_text(flat[i + 4])) for i in range(0, len(flat), 5)]
        keys.sort(key=lambda key: key.created)  # stable: ties keep creation order
        return keys

    def delete_api_key(self, user: int, key_id: str) -> bool:
        with self._use("delete_api_key"):
            deleted = self._delete_api_key(
                keys=[self._key("apikey:", key_id), self._key("apikeys:", user)],
                args=[user, key_id])
        return bool(deleted)

    # ---- id sequences ---------------------------------------------------------------

    def allocate(self, name: str, count: int) -> int:
        if count < 1:
            raise ValueError(f"expected a count of at least 1, got {count}")
        with self._use("allocate") as db:
            return db.incrby(self._key("seq:", name), count) - count + 1

    # ---- leases ---------------------------------------------------------------------

    def claim(self, name: str, holder: str, now: int, ttl_ms: int) -> bool:
        # Expiry by Redis's own clock (PX): processes on several machines agree on it.
        with self._use("claim"):
            return bool(self._claim(keys=[self._key("lease:", name)], args=[holder, ttl_ms]))

    def release(self, name: str, holder: str) -> None:
        with self._use("release"):
            self._release(keys=[self._key("lease:", name)], args=[holder])

    # ---- failure counts -------------------------------------------------------------

    def fail(self, name: str, now: int, ttl_ms: int) -> int:
        # Expiry by Redis's own clock, as for leases; a count that expired is gone, so
        # INCR starts it again at 1.
        with self._use("fail") as db:
            pipe = db.pipeline(transaction=True)
            pipe.incr(self._key("fail:", name))
            pipe.pexpire(self._key("fail:", name), ttl_ms)
            count, _ = pipe.execute()
            return int(count)

    def failures(self, name: str, now: int) -> tuple[int, int]:
        with self._use("failures") as db:
            pipe = db.pipeline(transaction=True)
            pipe.get(self._key("fail:", name))
            pipe.pttl(self._key("fail:", name))
            count, left = pipe.execute()
        if count is None or left <= 0:  # gone (-2), or (never) kept without a time (-1)
            return 0, 0
        return int(count), int(left)

    def forget_failures(self, name: str) -> None:
        with self._use("forget_failures") as db:
            db.delete(self._key("fail:", name))

    # ---- snapshots ------------------------------------------------------------------

    def save_snapshot(self, name: str, data: bytes) -> None:
        with self._use("save_snapshot") as db:
            db.set(self._key("snapshot:", name), data)

    def load_snapshot(self, name: str) -> bytes | None:
        with self._use("load_snapshot") as db:
            data = db.get(self._key("snapshot:", name))
            return None if data is None else _bytes(data)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._redis.close()


def where(url: str) -> str:
    """Describe the server of `url` for messages, without its credentials."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://{rest.rpartition('@')[2]}" if rest else repr(url)


def _bytes(value: bytes | str) -> bytes:
    # decode_responses=False makes every reply bytes; redis-py types them bytes | str.
    return value if isinstance(value, bytes) else value.encode()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
