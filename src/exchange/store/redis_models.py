"""The gateways' read models in Redis, shared by every gateway of a cluster.

Key layout (`P` is the namespace prefix, as in exchange.store.redis):

    | key                     | type   | contents                                         |
    |-------------------------|--------|--------------------------------------------------|
    | P view:pos              | hash   | "topic/partition": the offset recorded up to     |
    | P view:users            | set    | the users whose ledger account is open           |
    | P view:bal:{user}       | string | {asset: [available, held]}                       |
    | P view:open:{user}      | hash   | order id: the open order's state                 |
    | P view:opened:{user}    | zset   | order id, scored by the offset it was accepted at |
    | P view:closed:{user}    | list   | closed orders' states, newest first (500)        |
    | P view:fills:{user}     | list   | fills, newest first (500)                        |
    | P view:bids:{market}    | hash   | price (ticks): size (lots); asks alike           |
    | P view:version:{market} | string | the book's version                               |
    | P view:trades:{market}  | list   | trades, newest first (500)                       |
    | P view:candles:{m}:{s}  | list   | candles of s seconds, oldest first (1500)        |

Values are JSON arrays of integers and strings in the shapes exchange.services.views
keeps in memory (an order is `OrderView.to_state()`), so both implementations hand the
web layer the same objects.

Recording
    One Lua script per partition of a batch, all of a batch's scripts in one pipelined
    round trip. A script is atomic: it compares the batch's end with the partition's
    stored position, does nothing if the batch does not reach past it, and otherwise
    applies the batch's writes and stores the new position. Why that is right when every
    gateway records every batch: see exchange.services.readmodels.

Reads
    Each read is one round trip, in a worker thread (redis-py is blocking). A depth read
    takes both sides and the version in one MULTI, so they belong to one moment.

Known limits
    Not Redis Cluster: the script writes keys it is handed in its arguments. Open
    orders and book levels are read whole (HGETALL) and sorted here, O(their number).
"""

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import orjson
import redis

from exchange.core.markets import Config
from exchange.core.types import Side
from exchange.services.readmodels import Changes, ReadModels
from exchange.services.views import (
    CANCELLED,
    FILLED,
    KEEP_CANDLES,
    KEEP_CLOSED,
    KEEP_FILLS,
    KEEP_TRADES,
    Candle,
    MarketView,
    OrderView,
)
from exchange.store.port import StoreError
from exchange.store.redis import connect, prefix, where

T = TypeVar("T")
_ORDER_ID = OrderView.__slots__.index("order_id")  # where an order's state keeps its id
_DAY_MINUTES = 1440

# ARGV[1]: the partition's field in the position hash, ARGV[2]: the batch's end,
# ARGV[3]: its writes, a JSON list of [op, key, ...]. Pushed items carry their offset
# and are pushed only from the stored position on: a batch that overlaps one recorded
# before adds nothing twice, and the entities it writes are newer than those stored.
_RECORD = """
local stored = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) <= stored then return 0 end
for _, w in ipairs(cjson.decode(ARGV[3])) do
  local op, key = w[1], w[2]
  if op == 'hset' then redis.call('HSET', key, w[3], w[4])
  elseif op == 'hdel' then redis.call('HDEL', key, w[3])
  elseif op == 'set' then redis.call('SET', key, w[3])
  elseif op == 'sadd' then redis.call('SADD', key, w[3])
  elseif op == 'zadd' then redis.call('ZADD', key, w[3], w[4])
  elseif op == 'zrem' then redis.call('ZREM', key, w[3])
  elseif op == 'push' then
    if w[3] >= stored then
      redis.call('LPUSH', key, w[4])
      redis.call('LTRIM', key, 0, w[5] - 1)
    end
  elseif op == 'candle' then
    local last = redis.call('LINDEX', key, -1)
    local start = last and cjson.decode(last)[1]
    if start == w[3] then redis.call('LSET', key, -1, w[4])
    elseif not start or start < w[3] then
      redis.call('RPUSH', key, w[4])
      redis.call('LTRIM', key, -w[5], -1)
    end
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return 1
"""


class RedisModels(ReadModels):
    records = True

    def __init__(self, config: Config, url: str, namespace: str = "") -> None:
        self.config = config
        self._p = prefix(namespace).decode()
        self._redis = connect(url)
        self._where = where(url)
        self._record = self._redis.register_script(_RECORD)

    def close(self) -> None:
        self._redis.close()

    def _key(self, *parts: object) -> str:
        return self._p + "view:" + ":".join(map(str, parts))

    # ---- recording ------------------------------------------------------------------

    def prepare(self, changes: Changes) -> list[tuple[str, int, bytes]]:
        """Return, per partition, its field in the position hash, the end and the writes."""
        writes: dict[tuple[str, int], list[list[Any]]] = {}
        for user, u in changes.users.items():
            out = writes.setdefault(("user-events", u.partition), [])
            if u.opened:
                out.append(["sadd", self._key("users"), str(user)])
            if u.balances is not None:
                balances = {code: list(pair) for code, pair in u.balances.items()}
                out.append(["set", self._key("bal", user), orjson.dumps(balances).decode()])
            open_key, index = self._key("open", user), self._key("opened", user)
            for order_id, order in u.orders.items():
                if order.status in (FILLED, CANCELLED):
                    out.append(["hdel", open_key, str(order_id)])
                    out.append(["zrem", index, str(order_id)])
                    continue
                accepted = u.accepted_at.get(order_id)
                if accepted is not None:
                    out.append(["zadd", index, accepted, str(order_id)])
                out.append(["hset", open_key, str(order_id), _json(order.to_state())])
            closed = sorted((offset, order_id) for order_id, offset in u.closed_at.items())
            for offset, order_id in closed:
                out.append(["push", self._key("closed", user), offset,
                            _json(u.orders[order_id].to_state()), KEEP_CLOSED])
            for offset, fill in zip(u.fill_offsets, u.fills, strict=True):
                out.append(["push", self._key("fills", user), offset, _json(fill), KEEP_FILLS])
        for symbol, m in changes.markets.items():
            out = writes.setdefault(("market-data", m.partition), [])
            for (side, price), qty in m.levels.items():
                key = self._key("bids" if side == 1 else "asks", symbol)
                out.append(["hset", key, str(price), str(qty)] if qty
                           else ["hdel", key, str(price)])
            if m.levels:
                out.append(["set", self._key("version", symbol), str(m.version)])
            # Oldest first: each push goes in front of the one before.
            for offset, trade in zip(m.trade_offsets, m.trades, strict=True):
                out.append(["push", self._key("trades", symbol), offset, _json(trade),
                            KEEP_TRADES])
            for (seconds, start), candle in m.candles.items():
                out.append(["candle", self._key("candles", symbol, seconds), start,
                            _json(candle), KEEP_CANDLES])
        return [(f"{topic}/{partition}", changes.ranges[(topic, partition)][1],
                 orjson.dumps(ops)) for (topic, partition), ops in writes.items()]

    def write(self, prepared: list[tuple[str, int, bytes]]) -> None:
        positions = self._key("pos")
        try:
            with self._redis.pipeline(transaction=False) as pipe:
                for field, end, ops in prepared:
                    self._record(keys=[positions], args=[field, end, ops], client=pipe)
                pipe.execute()
        except redis.RedisError as error:
            raise StoreError(f"recording read models failed on {self._where}: {error}") \
                from error

    # ---- reads ----------------------------------------------------------------------

    async def _read(self, call: Callable[[redis.Redis], T]) -> T:
        def run() -> T:
            try:
                return call(self._redis)
            except redis.RedisError as error:
                raise StoreError(f"reading read models failed on {self._where}: {error}") \
                    from error
        return await asyncio.to_thread(run)

    async def opened(self, user: int) -> bool:
        key = self._key("users")
        return bool(await self._read(lambda db: db.sismember(key, str(user))))

    async def balances(self, user: int) -> dict[str, tuple[int, int]]:
        key = self._key("bal", user)
        stored = await self._read(lambda db: db.get(key))
        if stored is None:
            return {}
        return {code: (a, h) for code, (a, h) in orjson.loads(stored).items()}

    async def open_orders(self, user: int, market: str = "") -> list[OrderView]:
        index, states = self._key("opened", user), self._key("open", user)

        def read(db: redis.Redis) -> list[Any]:
            ids: list[Any] = db.zrevrange(index, 0, -1)
            return db.hmget(states, ids) if ids else []
        orders = [OrderView.from_state(orjson.loads(s)) for s in await self._read(read) if s]
        return [o for o in orders if not market or o.market == market]

    async def closed_orders(self, user: int, market: str, limit: int) -> list[OrderView]:
        key = self._key("closed", user)
        stored = await self._read(lambda db: db.lrange(key, 0, -1))
        orders = (OrderView.from_state(orjson.loads(s)) for s in stored)
        return [o for o in orders if not market or o.market == market][:limit]

    async def order(self, user: int, order_id: int) -> OrderView | None:
        states, closed = self._key("open", user), self._key("closed", user)

        def read(db: redis.Redis) -> Any:
            found = db.hget(states, str(order_id))
            if found is not None:
                return found
            for state in db.lrange(closed, 0, -1):
                if orjson.loads(state)[_ORDER_ID] == order_id:
                    return state
            return None
        state = await self._read(read)
        return None if state is None else OrderView.from_state(orjson.loads(state))

    async def fills(self, user: int, market: str, limit: int) -> list[list[Any]]:
        key = self._key("fills", user)
        stored = await self._read(lambda db: db.lrange(key, 0, -1))
        fills = (orjson.loads(s) for s in stored)
        return [f for f in fills if not market or f[1] == market][:limit]

    async def depth(self, symbol: str, limit: int) -> tuple[int, list[tuple[int, int]],
                                                            list[tuple[int, int]]]:
        view = await self._book(symbol)
        return view.version, view.depth(Side.BUY, limit), view.depth(Side.SELL, limit)

    async def _book(self, symbol: str) -> MarketView:
        keys = (self._key("bids", symbol), self._key("asks", symbol),
                self._key("version", symbol))

        def read(db: redis.Redis) -> list[Any]:
            with db.pipeline(transaction=True) as pipe:
                pipe.hgetall(keys[0])
                pipe.hgetall(keys[1])
                pipe.get(keys[2])
                return pipe.execute()
        bids, asks, version = await self._read(read)
        view = MarketView(self.config.market(symbol))
        view.bids = {int(p): int(q) for p, q in bids.items()}
        view.asks = {int(p): int(q) for p, q in asks.items()}
        view.version = int(version or 0)
        return view

    async def trades(self, symbol: str, limit: int) -> list[list[int]]:
        key = self._key("trades", symbol)
        return [orjson.loads(s) for s in await self._read(lambda db: db.lrange(key, 0,
                                                                             limit - 1))]

    async def candles(self, symbol: str, seconds: int, limit: int) -> list[Candle]:
        key = self._key("candles", symbol, seconds)
        return [orjson.loads(s) for s in await self._read(lambda db: db.lrange(key, -limit,
                                                                             -1))]

    async def ticker(self, symbol: str, now_ms: int) -> dict[str, int | None]:
        # The book, the last trade and a day of minutes, folded by the same code as in
        # memory (MarketView.ticker), so both give the same figures.
        view = await self._book(symbol)
        view.trades.extend(await self.trades(symbol, 1))
        view.candles[60].extend(await self.candles(symbol, 60, _DAY_MINUTES + 1))
        return view.ticker(now_ms)

    async def users(self) -> int:
        key = self._key("users")
        return int(await self._read(lambda db: db.scard(key)))


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()

