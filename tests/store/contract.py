"""The store contract, written once and run against every implementation of the port."""

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator

import pytest

from exchange.store.port import ApiKey, Session, Store, StoreError

HOUR = 3_600_000


class StoreContract(ABC):
    """Subclass per implementation and provide `make_store` (a fresh, empty store each time)."""

    @abstractmethod
    def make_store(self) -> Store: ...

    @abstractmethod
    def reopen(self, store: Store) -> Store:
        """Close `store` and open the same data again."""

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        store = self.make_store()
        yield store
        store.close()

    # ---- users ----------------------------------------------------------------------

    def test_user_ids_count_up_from_one_and_keep_their_hash(self, store: Store) -> None:
        assert [store.create_user(f"hash-{i}", 1000 + i) for i in range(3)] == [1, 2, 3]
        assert store.password_hash(2) == "hash-1"
        assert store.password_hash(4) is None
        assert store.password_hash(0) is None

    def test_user_ids_are_never_reused_after_a_reopen(self) -> None:
        store = self.make_store()
        assert store.create_user("a", 0) == 1
        assert store.create_user("b", 0) == 2
        store = self.reopen(store)
        assert store.create_user("c", 0) == 3
        assert store.password_hash(1) == "a"
        store.close()

    def test_a_password_hash_can_be_replaced(self, store: Store) -> None:
        user = store.create_user("old", 0)
        store.set_password_hash(user, "new")
        assert store.password_hash(user) == "new"
        store.set_password_hash(99, "nobody")
        assert store.password_hash(99) is None

    def test_concurrent_sign_ups_get_distinct_ids(self, store: Store) -> None:
        ids: list[int] = []
        lock = threading.Lock()

        def sign_up() -> None:
            mine = [store.create_user("h", 0) for _ in range(50)]
            with lock:
                ids.extend(mine)

        threads = [threading.Thread(target=sign_up) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(ids) == list(range(1, 401))

    # ---- sessions -------------------------------------------------------------------

    def test_a_session_lives_until_it_expires(self, store: Store) -> None:
        store.create_session(b"t" * 32, 7, "csrf", expires=2 * HOUR)
        assert store.session(b"t" * 32, now=0) == Session(user=7, csrf="csrf", expires=2 * HOUR)
        assert store.session(b"t" * 32, now=2 * HOUR - 1) is not None
        assert store.session(b"t" * 32, now=2 * HOUR) is None
        assert store.session(b"u" * 32, now=0) is None

    def test_a_deleted_session_is_gone(self, store: Store) -> None:
        store.create_session(b"a" * 32, 1, "x", expires=HOUR)
        store.create_session(b"b" * 32, 1, "y", expires=HOUR)
        store.delete_session(b"a" * 32)
        store.delete_session(b"never" * 4)
        assert store.session(b"a" * 32, now=0) is None
        assert store.session(b"b" * 32, now=0) == Session(1, "y", HOUR)

    def test_a_session_digest_is_stored_once(self, store: Store) -> None:
        store.create_session(b"a" * 32, 1, "x", expires=HOUR)
        with pytest.raises(StoreError):
            store.create_session(b"a" * 32, 2, "y", expires=HOUR)
        assert store.session(b"a" * 32, now=0) == Session(1, "x", HOUR)

    # ---- API keys -------------------------------------------------------------------

    def test_api_keys_belong_to_their_user_oldest_first(self, store: Store) -> None:
        first, second = ApiKey("k1", 1, "bot", 100), ApiKey("k2", 1, "", 200)
        other = ApiKey("k3", 2, "theirs", 150)
        store.create_api_key(second, b"s2")
        store.create_api_key(other, b"s3")
        store.create_api_key(first, b"s1")
        assert store.api_keys(1) == [first, second]
        assert store.api_keys(2) == [other]
        assert store.api_keys(3) == []
        assert store.api_key("k1") == (first, b"s1")
        assert store.api_key("nope") is None

    def test_a_key_keeps_its_kind_and_permissions(self, store: Store) -> None:
        signed = ApiKey("h" * 64, 1, "bot", 100, kind="hmac", permissions="read")
        store.create_api_key(signed, b"\x00sealed\xff")
        assert store.api_key("h" * 64) == (signed, b"\x00sealed\xff")
        assert store.api_keys(1) == [signed]

    def test_keys_created_at_the_same_time_list_in_creation_order(self, store: Store) -> None:
        keys = [ApiKey(f"k{i}", 1, "", 100) for i in (3, 1, 2)]
        for key in keys:
            store.create_api_key(key, b"s")
        assert store.api_keys(1) == keys

    def test_only_the_owner_can_delete_a_key(self, store: Store) -> None:
        mine, theirs = ApiKey("mine", 1, "", 0), ApiKey("theirs", 2, "", 0)
        store.create_api_key(mine, b"a")
        store.create_api_key(theirs, b"b")
        assert store.delete_api_key(1, "theirs") is False
        assert store.delete_api_key(1, "unknown") is False
        assert store.api_key("theirs") == (theirs, b"b")
        assert store.delete_api_key(1, "mine") is True
        assert store.delete_api_key(1, "mine") is False
        assert store.api_key("mine") is None
        assert store.api_keys(1) == []
        assert store.api_keys(2) == [theirs]

    def test_a_key_id_is_stored_once(self, store: Store) -> None:
        store.create_api_key(ApiKey("k", 1, "", 0), b"a")
        with pytest.raises(StoreError):
            store.create_api_key(ApiKey("k", 2, "", 0), b"b")
        assert store.api_key("k") == (ApiKey("k", 1, "", 0), b"a")

    # ---- id sequences ---------------------------------------------------------------

    def test_allocate_hands_out_disjoint_blocks_from_one(self, store: Store) -> None:
        assert store.allocate("orders", 1000) == 1
        assert store.allocate("orders", 1) == 1001
        assert store.allocate("orders", 5) == 1002
        assert store.allocate("trades", 10) == 1
        assert store.allocate("orders", 1000) == 1007

    def test_allocate_never_repeats_after_a_reopen(self) -> None:
        store = self.make_store()
        assert store.allocate("orders", 1000) == 1
        store = self.reopen(store)
        assert store.allocate("orders", 1000) == 1001
        store.close()

    def test_allocate_refuses_an_empty_block(self, store: Store) -> None:
        for count in (0, -1):
            with pytest.raises(ValueError, match="at least 1"):
                store.allocate("orders", count)
        assert store.allocate("orders", 1) == 1

    def test_concurrent_allocate_gives_disjoint_ranges(self, store: Store) -> None:
        blocks: list[int] = []
        lock = threading.Lock()

        def take() -> None:
            mine = [store.allocate("orders", 10) for _ in range(100)]
            with lock:
                blocks.extend(mine)

        threads = [threading.Thread(target=take) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [first + i for first in blocks for i in range(10)]
        assert sorted(ids) == list(range(1, 8001))

    # ---- leases ---------------------------------------------------------------------

    def test_a_lease_has_one_holder_until_released(self, store: Store) -> None:
        now = time.time_ns() // 1_000_000
        assert store.claim("risk/r1", "one", now, 60_000)
        assert not store.claim("risk/r1", "two", now, 60_000)
        assert store.claim("risk/r1", "one", now + 1000, 60_000)  # its holder renews it
        assert store.claim("risk/r2", "two", now, 60_000)  # another name is another lease
        store.release("risk/r1", "two")  # not two's to give up: nothing happens
        assert not store.claim("risk/r1", "two", now, 60_000)
        store.release("risk/r1", "one")
        assert store.claim("risk/r1", "two", now, 60_000)

    def test_a_lease_not_renewed_expires(self, store: Store) -> None:
        now = time.time_ns() // 1_000_000
        assert store.claim("match/m1", "gone", now, 300)
        assert not store.claim("match/m1", "next", now, 300)
        time.sleep(0.5)  # a store may use its own clock (Redis does): real time passes
        assert store.claim("match/m1", "next", time.time_ns() // 1_000_000, 300)
        assert not store.claim("match/m1", "gone", time.time_ns() // 1_000_000, 300)

    # ---- failure counts -------------------------------------------------------------

    def test_failures_count_up_until_forgotten(self, store: Store) -> None:
        now = time.time_ns() // 1_000_000
        assert store.failures("login:7:a", now) == (0, 0)
        assert [store.fail("login:7:a", now, 60_000) for _ in range(3)] == [1, 2, 3]
        count, left = store.failures("login:7:a", now)
        assert count == 3 and 55_000 < left <= 60_000
        assert store.failures("login:7:b", now) == (0, 0)  # another name, another count
        store.forget_failures("login:7:a")
        assert store.failures("login:7:a", now) == (0, 0)
        assert store.fail("login:7:a", now, 60_000) == 1
        store.forget_failures("nothing")  # forgetting what is not there does nothing

    def test_a_failure_count_runs_out_after_its_last_failure(self, store: Store) -> None:
        now = time.time_ns() // 1_000_000
        store.fail("login:8:a", now, 300)
        store.fail("login:8:a", now, 300)
        time.sleep(0.5)  # a store may use its own clock (Redis does): real time passes
        later = time.time_ns() // 1_000_000
        assert store.failures("login:8:a", later) == (0, 0)
        assert store.fail("login:8:a", later, 300) == 1  # and starts again

    # ---- snapshots ------------------------------------------------------------------

    def test_a_snapshot_is_replaced_and_loaded(self, store: Store) -> None:
        assert store.load_snapshot("risk-0") is None
        store.save_snapshot("risk-0", b"one")
        store.save_snapshot("risk-1", b"")
        store.save_snapshot("risk-0", b"two\x00" * 1000)
        assert store.load_snapshot("risk-0") == b"two\x00" * 1000
        assert store.load_snapshot("risk-1") == b""
        assert store.load_snapshot("match-0") is None

    # ---- closing --------------------------------------------------------------------

    def test_everything_survives_close_and_reopen(self) -> None:
        store = self.make_store()
        user = store.create_user("hash", 5)
        store.set_password_hash(user, "rehashed")
        store.create_session(b"t" * 32, user, "csrf", expires=1000)
        key = ApiKey("k1", user, "bot", 7)
        store.create_api_key(key, b"digest")
        assert store.allocate("orders", 1000) == 1
        store.save_snapshot("risk-0", b"state")
        store.close()
        store.close()  # closing twice is harmless

        again = self.reopen(store)
        assert again.password_hash(user) == "rehashed"
        assert again.session(b"t" * 32, now=999) == Session(user, "csrf", 1000)
        assert again.api_key("k1") == (key, b"digest")
        assert again.api_keys(user) == [key]
        assert again.allocate("orders", 1) == 1001
        assert again.create_user("second", 6) == user + 1
        assert again.load_snapshot("risk-0") == b"state"
        again.close()

    def test_a_closed_store_raises_store_error(self) -> None:
        store = self.make_store()
        store.close()
        with pytest.raises(StoreError):
            store.create_user("h", 0)
        with pytest.raises(StoreError):
            store.allocate("orders", 1)
        with pytest.raises(StoreError):
            store.load_snapshot("x")
