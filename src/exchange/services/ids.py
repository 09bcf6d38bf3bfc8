"""Ids for commands and orders, unique across gateways and restarts.

A gateway takes them a block at a time from the store (`Store.allocate`), so it asks the
store once per thousand commands, not once per command. Ids only grow within a gateway,
which is what gives the embedded pipeline its order: a command's seq is its id.
"""

from exchange.store.port import Store

BLOCK = 1000


class Ids:
    def __init__(self, store: Store, block: int = BLOCK) -> None:
        self.store = store
        self.block = block
        self._next = self._end = 0

    def new(self) -> int:
        """Return an id no gateway has used or will use."""
        if self._next == self._end:
            self._next = self.store.allocate("ids", self.block)
            self._end = self._next + self.block
        self._next += 1
        return self._next - 1
