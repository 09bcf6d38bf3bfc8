"""Process-wide settings every long-running exchange process applies at start-up."""

import gc

# The core keeps hundreds of thousands of long-lived objects (resting orders, levels,
# holds). The default thresholds make the collector walk them over and over; these let
# young garbage be collected often and the old generation rarely.
GC_THRESHOLDS = (50_000, 20, 100)


def tune_gc() -> None:
    """Move everything alive now out of the collector's sight and raise its thresholds."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)
