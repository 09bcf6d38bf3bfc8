"""Sign up, log in and out, API keys."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response

from exchange.services.accounts import AccountError
from exchange.store.port import ApiKey
from exchange.web.auth import (
    Principal,
    clear_session_cookies,
    current,
    now_ms,
    set_session_cookies,
)
from exchange.web.context import Context, context
from exchange.web.errors import ApiError
from exchange.web.schemas import ApiKeyBody, ErrorBody, LogInBody, SignUpBody

router = APIRouter(prefix="/api/v1", tags=["account"],
                   responses={400: {"model": ErrorBody}, 401: {"model": ErrorBody},
                              403: {"model": ErrorBody}, 429: {"model": ErrorBody}})
Ctx = Annotated[Context, Depends(context)]
Me = Annotated[Principal, Depends(current)]


@router.post("/users", status_code=201)
async def sign_up(ctx: Ctx, body: SignUpBody, request: Request,
                  response: Response) -> dict[str, Any]:
    """Create a user with the starting grant and log it in."""
    try:  # argon2 takes tens of milliseconds: off the event loop, a few at a time
        user = await ctx.passwords.run(ctx.accounts.register, body.password, now_ms())
    except AccountError as error:
        raise ApiError(400, "invalid_field", str(error), "password") from None
    await ctx.gateway.open_account(user)
    return _logged_in(ctx, user, request, response)


@router.post("/session")
async def log_in(ctx: Ctx, body: LogInBody, request: Request,
                 response: Response) -> dict[str, Any]:
    """Log in with a user id and password."""
    # Counted per user id and client address: a stranger guessing from one address
    # cannot lock the user out of logging in from theirs.
    attempt = (body.user_id, request.client.host if request.client else "")
    ctx.passwords.check(attempt)
    if not await ctx.passwords.run(ctx.accounts.verify, body.user_id, body.password):
        ctx.passwords.failed(attempt)
        raise ApiError(401, "unauthenticated", "wrong user id or password")
    ctx.passwords.succeeded(attempt)
    if not await ctx.models.opened(body.user_id):
        await ctx.gateway.open_account(body.user_id)  # a crash came between sign-up and this
    return _logged_in(ctx, body.user_id, request, response)


@router.get("/session")
async def who_am_i(me: Me) -> dict[str, Any]:
    """The user this request is authenticated as."""
    return {"user_id": me.user}


@router.delete("/session", status_code=204)
async def log_out(ctx: Ctx, me: Me, response: Response) -> None:
    """End this browser session."""
    if me.session_token is not None:
        ctx.accounts.close_session(me.session_token)
    clear_session_cookies(response)


@router.post("/api-keys", status_code=201)
async def create_key(ctx: Ctx, me: Me, body: ApiKeyBody) -> dict[str, Any]:
    """Make an API key; its secret is shown only in this answer.

    A `bearer` key (the default) is one text, `key`, for `Authorization: Bearer` on
    /api/v1. An `hmac` or `ed25519` key signs requests to the Binance-compatible /api/v3:
    its `key_id` goes in `X-MBX-APIKEY`; an hmac key's `secret` signs (shown once); an
    ed25519 key is the `public_key` you give (PEM), and you sign with its private key.
    """
    _browser_only(me)
    if body.kind == "bearer":
        if body.permissions != "trade" or body.public_key is not None:
            raise ApiError(400, "invalid_field", "a bearer key may always trade and has no "
                           "public key", "kind")
        try:
            text, key = ctx.accounts.create_api_key(me.user, body.label, now_ms())
        except AccountError as error:
            raise ApiError(400, "invalid_field", str(error), "label") from None
        return {**_shown(key), "key": text}
    if (body.public_key is None) != (body.kind == "hmac"):
        raise ApiError(400, "invalid_field", "an ed25519 key needs its public_key; an hmac "
                       "key takes none", "public_key")
    try:
        secret, key = ctx.accounts.create_signing_key(
            me.user, body.label, body.kind, body.permissions, body.public_key or "", now_ms())
    except AccountError as error:
        raise ApiError(400, "invalid_field", str(error), "public_key") from None
    return {**_shown(key), **({"secret": secret} if secret else {})}


@router.get("/api-keys")
async def list_keys(ctx: Ctx, me: Me) -> list[dict[str, Any]]:
    """The user's API keys (without their secrets)."""
    return [_shown(k) for k in ctx.accounts.api_keys(me.user)]


def _shown(key: ApiKey) -> dict[str, Any]:
    return {"key_id": key.key_id, "label": key.label, "created": key.created,
            "kind": key.kind, "permissions": key.permissions}


@router.delete("/api-keys/{key_id}", status_code=204,
               responses={404: {"model": ErrorBody}})
async def revoke_key(ctx: Ctx, me: Me, key_id: str, request: Request) -> None:
    """Revoke one of the user's API keys."""
    _browser_only(me)
    if not ctx.accounts.revoke_key(me.user, key_id):
        raise ApiError(404, "not_found", "you have no API key with this id")
    # Streams this gateway serves with the key end now; its requests fail from the next.
    request.app.state.binance_users.revoked(key_id)


def _browser_only(me: Principal) -> None:
    """Keys are managed from a logged-in page: a leaked key must not mint more keys."""
    if me.session_token is None:
        raise ApiError(403, "forbidden", "manage API keys from a logged-in session")


def _logged_in(ctx: Context, user: int, request: Request, response: Response) -> dict[str, Any]:
    token, csrf = ctx.accounts.open_session(user, now_ms())
    set_session_cookies(request, response, token, csrf)
    return {"user_id": user, "csrf_token": csrf}
