"""The store contract against the embedded SQLite store, plus what only it promises."""

from pathlib import Path

import pytest

from exchange.store.port import ApiKey, Session, Store, StoreError
from exchange.store.sqlite import SqliteStore
from tests.store.contract import StoreContract


class TestSqliteStore(StoreContract):
    @pytest.fixture(autouse=True)
    def _directory(self, tmp_path: Path) -> None:
        self.path = tmp_path / "store.sqlite"

    def make_store(self) -> Store:
        return SqliteStore(self.path)

    def reopen(self, store: Store) -> Store:
        store.close()
        return SqliteStore(self.path)


def test_everything_survives_close_and_reopen(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite")
    user = store.create_user("hash", 5)
    store.set_password_hash(user, "rehashed")
    store.create_session(b"t" * 32, user, "csrf", expires=1000)
    key = ApiKey("k1", user, "bot", 7)
    store.create_api_key(key, b"digest")
    assert store.allocate("orders", 1000) == 1
    store.save_snapshot("risk-0", b"state")
    store.close()
    store.close()  # closing twice is harmless

    again = SqliteStore(tmp_path / "s.sqlite")
    assert again.password_hash(user) == "rehashed"
    assert again.session(b"t" * 32, now=999) == Session(user, "csrf", 1000)
    assert again.api_key("k1") == (key, b"digest")
    assert again.api_keys(user) == [key]
    assert again.allocate("orders", 1) == 1001
    assert again.create_user("second", 6) == user + 1
    assert again.load_snapshot("risk-0") == b"state"
    again.close()


def test_two_stores_on_one_file_never_share_an_id(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "s.sqlite"), SqliteStore(tmp_path / "s.sqlite")
    blocks = [store.allocate("orders", 100) for _ in range(5) for store in (first, second)]
    assert sorted(blocks) == list(range(1, 1001, 100))
    first.close()
    second.close()


def test_a_file_that_cannot_be_opened_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open store"):
        SqliteStore(tmp_path / "missing-directory" / "s.sqlite")
