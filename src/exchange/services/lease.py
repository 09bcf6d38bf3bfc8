"""One live process per instance name: a lease in the store, renewed while it runs.

Two risk (or match) processes started with the same `--instance` would share one
transactional id, and each would fence the other's producer in turn, for ever. So an
instance claims the lease of its name first. A process that finds it held waits until
the lease could have expired (its holder may have just died without giving it up, as a
restarted container keeps its name) and then gives up. While it runs, a thread renews
the lease; if a renewal fails (the store is gone, or the process stalled past the lease),
`lost` is set and the process must stop, since another may have taken the name over.
"""

import threading
import time
import uuid
from collections.abc import Callable

from exchange.store.port import Store, StoreError

TTL_MS = 10_000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class Lease:
    def __init__(self, store: Store, name: str, ttl_ms: int = TTL_MS,
                 clock_ms: Callable[[], int] = _now_ms) -> None:
        self.store = store
        self.name = name
        self.ttl_ms = ttl_ms
        self.clock_ms = clock_ms
        self.holder = uuid.uuid4().hex
        self.lost = threading.Event()
        self._done = threading.Event()
        self._renewer: threading.Thread | None = None

    def acquire(self, wait: float) -> bool:
        """Claim the lease, trying for up to `wait` seconds; return whether we hold it."""
        deadline = time.monotonic() + wait
        while not self.store.claim(self.name, self.holder, self.clock_ms(), self.ttl_ms):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.25)
        return True

    def keep(self, on_lost: Callable[[], None]) -> None:
        """Renew the lease in a thread until `release`; call `on_lost` if a renewal fails."""
        def renew() -> None:
            while not self._done.wait(self.ttl_ms / 3000):
                try:
                    held = self.store.claim(self.name, self.holder, self.clock_ms(), self.ttl_ms)
                except StoreError:
                    held = False
                if not held:
                    self.lost.set()
                    on_lost()
                    return

        self._renewer = threading.Thread(target=renew, name=f"lease {self.name}", daemon=True)
        self._renewer.start()

    def release(self) -> None:
        self._done.set()
        if self._renewer is not None:
            self._renewer.join()
        if not self.lost.is_set():
            self.store.release(self.name, self.holder)
