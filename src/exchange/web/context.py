"""What every route needs, reached from the request: the services behind the API."""

from dataclasses import dataclass

from fastapi import Request

from exchange.core.markets import Config
from exchange.services.accounts import Accounts
from exchange.services.gateway import Gateway
from exchange.services.readmodels import ReadModels
from exchange.web.limits import PasswordGate
from exchange.web.render import Render


@dataclass(frozen=True, slots=True)
class Context:
    config: Config
    gateway: Gateway
    models: ReadModels  # what REST reads (WebSocket snapshots come from the gateway's fold)
    accounts: Accounts
    render: Render
    passwords: PasswordGate  # sign-up and log-in hash through it
    started: float  # time.monotonic() at start


async def context(request: Request) -> Context:
    """FastAPI dependency: the app's services."""
    ctx: Context = request.app.state.ctx
    return ctx
