"""Klines at every Binance interval, from the candles the views keep.

The views keep one-minute, five-minute, hourly and daily candles. Every other interval
but one second is a whole number of one of those, aligned as Binance aligns it: to the
Unix epoch, weeks to Monday 00:00 UTC, months to the calendar. A kline of such an
interval merges the candles that fall in it.
"""

from datetime import UTC, datetime
from typing import Final

from exchange.services.views import KEEP_CANDLES, Candle

_MONDAY: Final = 4 * 86_400  # the first Monday after the epoch (a Thursday)
_WEEK: Final = 7 * 86_400
MONTH: Final = -1  # the length of "1M": a calendar month

# Binance's interval -> (its length in seconds, the length of the candles it is made of)
INTERVALS: dict[str, tuple[int, int]] = {
    "1m": (60, 60), "3m": (180, 60), "5m": (300, 300), "15m": (900, 300),
    "30m": (1800, 300), "1h": (3600, 3600), "2h": (7200, 3600), "4h": (14_400, 3600),
    "6h": (21_600, 3600), "8h": (28_800, 3600), "12h": (43_200, 3600),
    "1d": (86_400, 86_400), "3d": (259_200, 86_400), "1w": (_WEEK, 86_400),
    "1M": (MONTH, 86_400),
}


def bucket(start: int, length: int) -> tuple[int, int]:
    """Return the start and the end (exclusive) in seconds of the interval holding
    `start`."""
    if length == MONTH:
        day = datetime.fromtimestamp(start, UTC)
        first = datetime(day.year, day.month, 1, tzinfo=UTC)
        after = datetime(day.year + day.month // 12, day.month % 12 + 1, 1, tzinfo=UTC)
        return int(first.timestamp()), int(after.timestamp())
    if length == _WEEK:
        begin = (start - _MONDAY) // _WEEK * _WEEK + _MONDAY
    else:
        begin = start // length * length
    return begin, begin + length


def source_limit(interval: str, limit: int) -> int:
    """How many candles of the source interval `limit` klines may need."""
    length, source = INTERVALS[interval]
    per = 31 if length == MONTH else length // source
    return min(KEEP_CANDLES, limit * per)


def merge(candles: list[Candle], interval: str) -> list[tuple[int, int, Candle]]:
    """Merge candles (oldest first) into klines: (start s, end s, candle), oldest first."""
    length, _ = INTERVALS[interval]
    out: list[tuple[int, int, Candle]] = []
    for candle in candles:
        begin, end = bucket(candle[0], length)
        if out and out[-1][0] == begin:
            kline = out[-1][2]
            kline[2] = max(kline[2], candle[2])
            kline[3] = min(kline[3], candle[3])
            kline[4] = candle[4]
            for i in range(5, 12):
                kline[i] += candle[i]
        else:
            out.append((begin, end, [begin, *candle[1:]]))
    return out
