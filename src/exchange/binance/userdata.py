"""A user's own orders, fills and balances pushed as Binance's user data stream events:
`executionReport` and `outboundAccountPosition`, each wrapped as
`{"subscriptionId": n, "event": ...}` on the WebSocket API connection that subscribed
(`userDataStream.subscribe.signature`, or `.subscribe` after `session.logon`).

Each batch of the exchange tells what changed for a user: the orders, in the order they
changed, the fills, in the order they happened, and the balances. An order's reports
follow its life: `NEW` when accepted, one `TRADE` per fill (cumulative quantities
counted up to the order's state after the batch), then `CANCELED`, `EXPIRED` or
`TRADE_PREVENTION` if it ended without filling; `REPLACED` when only its quantity
changed (a reduction). So each fill is reported once, in order.
"""

import itertools
from typing import Any

import orjson

from exchange.binance.shapes import SIDE_NAMES, Shapes, binance_symbol, order_type, status
from exchange.core.types import CancelReason, OrderType
from exchange.services.readmodels import MarketChanges, UserChanges
from exchange.services.views import CANCELLED, OrderView, Views
from exchange.web.auth import now_ms
from exchange.web.hub import Connection

_TIF = {1: "GTC", 2: "IOC", 3: "FOK", 4: "GTC"}
_ENDED = {int(CancelReason.USER): "CANCELED", int(CancelReason.REDUCED): "CANCELED",
          int(CancelReason.EXPIRED): "EXPIRED", int(CancelReason.SELF_TRADE): "TRADE_PREVENTION"}


class UserStreams:
    """Which connections follow which user's stream, by subscription id, and with which
    key: revoking the key ends the subscriptions made with it at once (with Binance's
    `eventStreamTerminated`)."""

    def __init__(self, shapes: Shapes) -> None:
        self.shapes = shapes
        self.followers: dict[int, dict[tuple[Connection, int], str]] = {}
        self._ids = itertools.count()

    def subscribe(self, connection: Connection, user: int, key_id: str) -> int:
        subscription = next(self._ids)
        self.followers.setdefault(user, {})[(connection, subscription)] = key_id
        return subscription

    def revoked(self, key_id: str) -> None:
        """End every subscription made with the key `key_id`."""
        now = now_ms()
        for user, following in list(self.followers.items()):
            for (connection, subscription), key in list(following.items()):
                if key == key_id:
                    del following[(connection, subscription)]
                    connection.push(orjson.dumps({"subscriptionId": subscription, "event": {
                        "e": "eventStreamTerminated", "E": now}}).decode())
            if not following:
                del self.followers[user]

    def unsubscribe(self, connection: Connection, subscription: int | None = None) -> bool:
        """End one subscription of the connection (all of them if None); say if any."""
        found = False
        for user, following in list(self.followers.items()):
            for key in [k for k in following if k[0] is connection
                        and (subscription is None or k[1] == subscription)]:
                del following[key]
                found = True
            if not following:
                del self.followers[user]
        return found

    def on_batch(self, markets: dict[str, MarketChanges], users: dict[int, UserChanges],
                 views: Views) -> None:
        if not self.followers:
            return
        now = now_ms()
        for user, changed in users.items():
            following = self.followers.get(user)
            if not following:
                continue
            events = [*self._reports(changed, now), *self._positions(changed, now)]
            for connection, subscription in following:
                for event in events:
                    connection.push(orjson.dumps({"subscriptionId": subscription,
                                                  "event": event}).decode())

    def _positions(self, changed: UserChanges, now: int) -> list[dict[str, Any]]:
        if changed.balances is None:
            return []
        rows = []
        for asset in self.shapes.config.assets:
            units = self.shapes.render.assets[asset.code]
            free, locked = changed.balances.get(asset.code, (0, 0))
            rows.append({"a": asset.code, "f": units(free), "l": units(locked)})
        return [{"e": "outboundAccountPosition", "E": now, "u": now, "B": rows}]

    def _reports(self, changed: UserChanges, now: int) -> list[dict[str, Any]]:
        reports = []
        for order_id, order in changed.orders.items():
            fills = [f for f in changed.fills if f[2] == order_id]
            filled = order.filled - sum(f[5] for f in fills)
            quote = order.filled_quote - sum(f[6] for f in fills)
            if order_id in changed.accepted_at:
                reports.append(self._report(order, "NEW", "NEW", filled, quote, None, now))
            for index, fill in enumerate(fills):
                filled, quote = filled + fill[5], quote + fill[6]
                done = index == len(fills) - 1 and order.status != CANCELLED
                state = status(order) if done else "PARTIALLY_FILLED"
                reports.append(self._report(order, "TRADE", state, filled, quote, fill, now))
            if order_id in changed.closed_at and order.status == CANCELLED:
                reports.append(self._report(order, _ENDED.get(order.reason, "CANCELED"),
                                            status(order), filled, quote, None, now))
            elif not fills and order_id not in changed.accepted_at and (
                    order_id not in changed.closed_at):
                # Reduced (or a stop order triggered): its quantity or state changed.
                reports.append(self._report(order, "REPLACED", status(order), filled, quote,
                                            None, now))
        return reports

    def _report(self, order: OrderView, execution: str, state: str, filled: int, quote: int,
                fill: list[Any] | None, now: int) -> dict[str, Any]:
        market = self.shapes.config.market(order.market)
        f = self.shapes.format(market)
        limit = order.type == OrderType.LIMIT
        return {
            "e": "executionReport", "E": now, "s": binance_symbol(market),
            "c": order.client_order_id, "S": SIDE_NAMES[order.side], "o": order_type(order),
            "f": _TIF[order.tif] if limit else "GTC", "q": f.qty(order.qty),
            "p": f.price(order.price if limit else 0), "P": f.price(order.stop_price),
            "F": f.qty(0), "g": -1, "C": order.client_order_id if execution in _ENDED.values()
            else "", "x": execution, "X": state, "r": "NONE", "i": order.order_id,
            "l": f.qty(fill[5] if fill else 0), "z": f.qty(filled),
            "L": f.price(fill[4] if fill else 0), "n": f.quote(fill[7] if fill else 0),
            "N": market.quote.code if fill else None, "T": fill[9] if fill else order.updated,
            "t": fill[0] if fill else -1, "I": 0,
            "w": state in ("NEW", "PARTIALLY_FILLED") and not order.waiting,
            "m": bool(fill[8]) if fill else False, "M": False, "O": order.created,
            "Z": f.quote(quote), "Y": f.quote(fill[6] if fill else 0),
            "Q": f.quote(order.quote_qty), "W": order.created, "V": "EXPIRE_TAKER"}
