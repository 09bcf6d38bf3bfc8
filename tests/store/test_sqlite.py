"""The store contract against the embedded SQLite store, plus what only it promises."""

from pathlib import Path

import pytest

from exchange.store.port import Store, StoreError
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


def test_two_stores_on_one_file_never_share_an_id(tmp_path: Path) -> None:
    first, second = SqliteStore(tmp_path / "s.sqlite"), SqliteStore(tmp_path / "s.sqlite")
    blocks = [store.allocate("orders", 100) for _ in range(5) for store in (first, second)]
    assert sorted(blocks) == list(range(1, 1001, 100))
    first.close()
    second.close()


def test_a_file_that_cannot_be_opened_raises_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open store"):
        SqliteStore(tmp_path / "missing-directory" / "s.sqlite")
