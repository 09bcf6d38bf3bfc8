"""The REST routes of /api/v3: plain Starlette routes under one `Mount` that the app
tries before its own (`web.app`). FastAPI would try every route of the app in turn and
solve each handler's dependencies: a third of a signed request's time, measured (see
docs/benchmarks.md). A handler takes the request and returns what to answer as JSON;
whatever it raises is answered in Binance's shape (`errors`).
"""

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from exchange.binance.errors import BinanceError, translated
from exchange.web.responses import Json

Handler = Callable[[Request], Awaitable[Any]]


class Routes:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, *paths: str) -> Callable[[Handler], Handler]:
        """Serve `handler` at each of `paths` for `method`."""

        def register(handler: Handler) -> Handler:
            async def respond(request: Request) -> Response:
                try:
                    result = await translated(handler(request))
                except BinanceError as error:
                    return error.response()
                return Json(result)

            for path in paths:
                self.routes.append(Route(path, respond, methods=[method],
                                         name=handler.__name__))
            return handler

        return register
