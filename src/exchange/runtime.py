"""Process-wide settings every long-running exchange process applies at start-up, and the
collector's pauses, which `GET /api/v1/status` reports."""

import gc
import time
from collections import deque
from typing import Any

# The core keeps hundreds of thousands of long-lived objects (resting orders, levels,
# holds). The default thresholds make the collector walk them over and over; these let
# young garbage be collected often and the old generation rarely.
GC_THRESHOLDS = (50_000, 20, 100)


class Pauses:
    """The collector's recent pauses: (monotonic time at the end, milliseconds, generation)."""

    def __init__(self, keep: int = 20_000) -> None:
        self.recent: deque[tuple[float, float, int]] = deque(maxlen=keep)
        self._began = 0.0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._began = now
        else:
            self.recent.append((time.monotonic(), (now - self._began) * 1000,
                                info["generation"]))

    def since(self, monotonic: float) -> list[float]:
        """The lengths (ms) of the pauses that ended after `monotonic`."""
        return [ms for at, ms, _ in self.recent if at > monotonic]


PAUSES = Pauses()


def tune_gc() -> None:
    """Move everything alive now out of the collector's sight and raise its thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
    if PAUSES not in gc.callbacks:
        gc.callbacks.append(PAUSES)


def age() -> None:
    """Collect the young generations, then move what survived out of the collector's sight.

    What survives a young pass in the exchange is nearly always long-lived state: resting
    orders, their views, fills. Left in the generations, every later pass walks it again,
    and a pass over tens of thousands of objects stalls every request for tens of
    milliseconds (more right after a snapshot's fork, when each page it touches is
    copied). Frozen, it is still freed by reference counting when dropped; only a cycle
    formed later among frozen objects would never be collected, and the exchange's state
    frees itself without cycles (records are unlinked from their levels and accounts).
    """
    gc.collect(1)
    gc.freeze()
