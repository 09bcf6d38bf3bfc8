"""Authenticated trading: balances, orders (place, cancel, reduce, list), fills."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from exchange.core.numbers import InvalidNumber
from exchange.services.views import CANCELLED, FILLED
from exchange.web.auth import Principal, current
from exchange.web.context import Context, context
from exchange.web.errors import ApiError
from exchange.web.orders import invalid, market_of, parse_place
from exchange.web.schemas import CLIENT_ORDER_ID, ErrorBody, PlaceOrderBody, ReduceBody

router = APIRouter(prefix="/api/v1", tags=["trading"],
                   responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody},
                              403: {"model": ErrorBody}, 404: {"model": ErrorBody},
                              503: {"model": ErrorBody}})
Ctx = Annotated[Context, Depends(context)]
Me = Annotated[Principal, Depends(current)]
OrderId = Annotated[int, Path(ge=1, le=2**63 - 1)]
Limit = Annotated[int, Query(ge=1, le=500)]
MarketFilter = Annotated[str | None, Query(max_length=32)]


@router.get("/balances")
async def balances(ctx: Ctx, me: Me) -> list[dict[str, str]]:
    """Available and held (in open orders) per asset."""
    return ctx.render.balances(await ctx.models.balances(me.user))


@router.post("/orders", status_code=201)
async def place(ctx: Ctx, me: Me, body: PlaceOrderBody) -> dict[str, Any]:
    """Place an order; the answer comes once the exchange accepted it."""
    args = parse_place(ctx.config, body)
    order = await ctx.gateway.place(me.user, *args)
    return ctx.render.order(order)


@router.get("/orders/open")
async def open_orders(ctx: Ctx, me: Me, market: MarketFilter = None) -> list[dict[str, Any]]:
    """Open orders, newest first."""
    _known(ctx, market)
    return [ctx.render.order(o) for o in await ctx.models.open_orders(me.user, market or "")]


@router.get("/orders/history")
async def history(ctx: Ctx, me: Me, market: MarketFilter = None,
                  limit: Limit = 100) -> list[dict[str, Any]]:
    """Closed orders (filled or cancelled), newest first."""
    _known(ctx, market)
    closed = await ctx.models.closed_orders(me.user, market or "", limit)
    return [ctx.render.order(o) for o in closed]


@router.get("/orders/{order_id}")
async def get_order(ctx: Ctx, me: Me, order_id: OrderId) -> dict[str, Any]:
    """One of your orders, open or recently closed."""
    order = await ctx.models.order(me.user, order_id)
    if order is None:
        raise ApiError(404, "unknown_order", "you have no order with this id")
    return ctx.render.order(order)


@router.delete("/orders/by-client-id/{client_order_id}")
async def cancel_by_client_id(
    ctx: Ctx, me: Me,
    client_order_id: Annotated[str, Path(pattern=CLIENT_ORDER_ID)],
) -> dict[str, Any]:
    """Cancel an open order named by its client order id."""
    order = await ctx.gateway.cancel(me.user, 0, client_order_id)
    return ctx.render.order(order)


@router.delete("/orders/{order_id}")
async def cancel(ctx: Ctx, me: Me, order_id: OrderId) -> dict[str, Any]:
    """Cancel an open order."""
    return ctx.render.order(await ctx.gateway.cancel(me.user, order_id))


@router.delete("/orders")
async def cancel_all(ctx: Ctx, me: Me, market: MarketFilter = None) -> dict[str, Any]:
    """Cancel all your open orders (in one market, if given)."""
    _known(ctx, market)
    return {"cancelled": await ctx.gateway.cancel_all(me.user, market or "")}


@router.post("/orders/{order_id}/reduce")
async def reduce(ctx: Ctx, me: Me, order_id: OrderId, body: ReduceBody) -> dict[str, Any]:
    """Take quantity off an open order, keeping its place in the queue."""
    order = await ctx.models.order(me.user, order_id)
    if order is None or order.status in (FILLED, CANCELLED):
        raise ApiError(404, "unknown_order", "you have no open order with this id")
    try:
        lots = ctx.config.market(order.market).parse_qty(body.reduce_by, "reduce_by")
    except InvalidNumber as error:
        raise invalid(error) from None
    return ctx.render.order(await ctx.gateway.reduce(me.user, order_id, lots))


@router.get("/fills")
async def fills(ctx: Ctx, me: Me, market: MarketFilter = None,
                limit: Limit = 100) -> list[dict[str, Any]]:
    """Your trades, newest first."""
    _known(ctx, market)
    return [ctx.render.fill(f) for f in await ctx.models.fills(me.user, market or "", limit)]


def _known(ctx: Context, market: str | None) -> None:
    """A filter on a market that does not exist is a mistake (404), not an empty list."""
    if market:
        market_of(ctx.config, market)
