"""The store contract against a real Redis server, plus what only the Redis store promises."""

import re
import socket
import time
import uuid
from collections.abc import Iterator

import pytest
import redis

from exchange.store.port import ApiKey, Session, Store, StoreError
from exchange.store.redis import SKEW_MS, RedisStore
from tests.store.contract import HOUR, StoreContract


class TestRedisStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _namespace(self, redis_url: str) -> None:
        self.url, self.namespace = redis_url, uuid.uuid4().hex

    def make_store(self) -> Store:
        return RedisStore(self.url, self.namespace)

    def reopen(self, store: Store) -> Store:
        store.close()
        return RedisStore(self.url, self.namespace)


@pytest.fixture
def namespace() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client, to look at the keys the store writes."""
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_namespaces_do_not_see_each_other(redis_url: str) -> None:
    first, second = (RedisStore(redis_url, uuid.uuid4().hex) for _ in range(2))
    assert first.create_user("first", 0) == 1
    assert second.create_user("second", 0) == 1
    first.create_session(b"s" * 32, 1, "csrf", expires=HOUR)
    first.create_api_key(ApiKey("k", 1, "", 0), b"a")
    second.create_api_key(ApiKey("k", 1, "", 0), b"b")  # the same id, another namespace
    first.save_snapshot("risk-0", b"first")
    assert first.allocate("orders", 10) == 1
    assert second.allocate("orders", 10) == 1
    assert second.password_hash(1) == "second"
    assert second.session(b"s" * 32, now=0) is None
    assert first.api_key("k") == (ApiKey("k", 1, "", 0), b"a")
    assert second.load_snapshot("risk-0") is None
    first.close()
    second.close()


def test_a_session_key_gets_a_ttl_past_its_expiry(
        redis_url: str, namespace: str, raw: redis.Redis) -> None:
    store = RedisStore(redis_url, namespace)
    expires = int(time.time() * 1000) + HOUR
    store.create_session(b"t" * 32, 1, "csrf", expires)
    ttl = raw.pttl(f"{namespace}:session:".encode() + b"t" * 32)
    assert HOUR < ttl <= HOUR + SKEW_MS
    store.close()


def test_a_session_expired_by_the_server_clock_lives_on_for_the_skew_margin(
        redis_url: str, namespace: str, raw: redis.Redis) -> None:
    # The caller's clock decides: a session that expired long ago by the server's clock
    # is still valid for a caller whose clock says it is earlier.
    store = RedisStore(redis_url, namespace)
    store.create_session(b"t" * 32, 1, "csrf", expires=HOUR)
    assert 0 < raw.pttl(f"{namespace}:session:".encode() + b"t" * 32) <= SKEW_MS
    assert store.session(b"t" * 32, now=HOUR - 1) == Session(1, "csrf", HOUR)
    store.close()


def test_an_expired_session_is_deleted_when_looked_up(
        redis_url: str, namespace: str, raw: redis.Redis) -> None:
    store = RedisStore(redis_url, namespace)
    store.create_session(b"t" * 32, 1, "csrf", expires=HOUR)
    assert store.session(b"t" * 32, now=HOUR) is None
    assert raw.exists(f"{namespace}:session:".encode() + b"t" * 32) == 0
    store.close()


def test_a_deleted_key_leaves_its_owners_list(
        redis_url: str, namespace: str, raw: redis.Redis) -> None:
    store = RedisStore(redis_url, namespace)
    for key_id in ("a", "b", "c"):
        store.create_api_key(ApiKey(key_id, 1, "", 0), b"s")
    assert store.delete_api_key(1, "b") is True
    assert raw.lrange(f"{namespace}:apikeys:1", 0, -1) == [b"a", b"c"]
    store.close()


def test_a_redis_error_becomes_store_error(
        redis_url: str, namespace: str, raw: redis.Redis) -> None:
    store = RedisStore(redis_url, namespace)
    raw.set(f"{namespace}:seq:orders", b"not a number")
    with pytest.raises(StoreError, match=re.escape("allocate failed on redis://127.0.0.1:")):
        store.allocate("orders", 1)
    raw.set(f"{namespace}:seq:trades", 2**63 - 1)
    with pytest.raises(StoreError, match="overflow"):
        store.allocate("trades", 1)
    store.close()


def test_an_unreachable_server_raises_store_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # Nothing listens on the port now; the password must not appear in the message.
    where = re.escape(f"cannot reach Redis at redis://127.0.0.1:{port}/0")
    with pytest.raises(StoreError, match=where) as raised:
        RedisStore(f"redis://user:secret@127.0.0.1:{port}/0")
    assert "secret" not in str(raised.value)


def test_a_bad_url_or_namespace_is_refused() -> None:
    with pytest.raises(StoreError, match="cannot open a store"):
        RedisStore("http://127.0.0.1:1/0")
    with pytest.raises(ValueError, match="namespace"):
        RedisStore("redis://127.0.0.1:1/0", "a:b")
