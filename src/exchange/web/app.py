"""The gateway's web app: REST under /api/v1, the WebSocket, the page and its assets."""

import time
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import FileResponse
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from exchange.binance import market as binance_market
from exchange.binance import streams as binance_streams
from exchange.binance import trade as binance_trade
from exchange.binance import wsapi as binance_wsapi
from exchange.binance.shapes import Shapes
from exchange.binance.userdata import UserStreams
from exchange.core.markets import Config
from exchange.services.accounts import Accounts
from exchange.services.gateway import Driver, Gateway, Unavailable
from exchange.web import account, errors, public, trading, ws
from exchange.web.context import Context
from exchange.web.hub import Hub
from exchange.web.limits import BodyLimit, PasswordGate
from exchange.web.render import Render
from exchange.web.responses import Json

STATIC = Path(__file__).parent / "static"
# The page loads nothing from elsewhere: scripts, styles and the chart are all vendored.
_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")


def create_app(config: Config, gateway: Gateway, accounts: Accounts) -> FastAPI:
    """Build the app around running services (their start and stop belong to the caller)."""
    app = FastAPI(title="exchange", version="1", default_response_class=Json,
                  summary="A small, real, fast coin exchange.")
    render = Render(config)
    hub = Hub(render)
    gateway.listeners.append(lambda markets, users: hub.on_batch(markets, users,
                                                                 gateway.views))
    app.state.ctx = Context(config, gateway, gateway.models, accounts, render,
                            PasswordGate(gateway.store), time.monotonic())
    app.state.hub = hub
    app.state.binance = shapes = Shapes(config, render)
    app.state.binance_streams = streams = binance_streams.StreamHub(shapes)
    gateway.listeners.append(lambda markets, users: streams.on_batch(markets, users,
                                                                     gateway.views))
    app.state.binance_users = followers = UserStreams(shapes)
    gateway.listeners.append(lambda markets, users: followers.on_batch(markets, users,
                                                                       gateway.views))
    errors.install(app)
    app.add_middleware(BodyLimit)
    app.add_middleware(WhileRestoring, driver=gateway.driver)
    # Binance's REST first, under one prefix: each request then meets its routes alone.
    app.router.routes.insert(0, Mount("/api/v3", routes=[*binance_market.routes.routes,
                                                         *binance_trade.routes.routes]))
    for module in (public, account, trading, ws, binance_streams, binance_wsapi):
        app.include_router(module.router)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={
            "Content-Security-Policy": _CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


class WhileRestoring:
    """ASGI middleware: while the exchange restores its state, the API answers 503
    `unavailable` (its views are not whole yet); the page and the status are served."""

    def __init__(self, app: ASGIApp, driver: Driver) -> None:
        self.app = app
        self.driver = driver

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (self.driver.ready or scope["type"] not in ("http", "websocket")
                or not path.startswith("/api/") or path == "/api/v1/status"):
            await self.app(scope, receive, send)
            return
        message = self.driver.why_unavailable()
        if scope["type"] == "websocket":
            await receive()  # the connect
            await send({"type": "websocket.close", "code": 1013, "reason": message[:120]})
            return
        error = errors.unavailable(Unavailable(message))
        await Json(error.body(), status_code=503)(scope, receive, send)
