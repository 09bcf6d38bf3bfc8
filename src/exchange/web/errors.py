"""One error shape for the whole API: `{"error": {"code", "message", "field"?}}`.

Codes are stable strings a program can branch on; messages are for people. A refusal by
the exchange maps its `Reject` reason to a code and an HTTP status here, once.
"""

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from exchange.core.types import Reject
from exchange.services.gateway import NoAnswer, Refused, Unavailable
from exchange.web.responses import Json


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}


_REFUSALS: dict[Reject, tuple[int, str]] = {
    Reject.INVALID_PRICE: (400, "price is not valid for this market"),
    Reject.INVALID_QUANTITY: (400, "quantity is not valid for this market"),
    Reject.INVALID_ORDER: (400, "these fields do not make an order"),
    Reject.UNKNOWN_MARKET: (404, "no such market"),
    Reject.UNKNOWN_ACCOUNT: (400, "this user has no trading account yet"),
    Reject.ACCOUNT_EXISTS: (409, "the account exists already"),
    Reject.INVALID_ACCOUNT: (400, "no account can have that user id"),
    Reject.INSUFFICIENT_FUNDS: (400, "not enough available funds for this order"),
    Reject.DUPLICATE_ORDER_ID: (409, "an order with this id exists already"),
    Reject.DUPLICATE_CLIENT_ORDER_ID: (400, "you have an open order with this client_order_id"),
    Reject.UNKNOWN_ORDER: (404, "you have no open order with this id"),
    Reject.POST_ONLY_WOULD_TAKE: (400, "a post-only order may not trade on arrival"),
    Reject.FOK_CANNOT_FILL: (400, "a fill-or-kill order could not fill completely"),
    Reject.ORDER_NOT_IN_BOOK: (400, "the order is not in the book: it left it before the "
                               "request reached it, or it waits for its stop price"),
    Reject.WOULD_TRIGGER_IMMEDIATELY: (400, "the last trade price has already reached the "
                                       "stop price"),
}


def refused(error: Refused) -> ApiError:
    status, message = _REFUSALS[error.reason]
    return ApiError(status, error.reason.name.lower(), message)


def no_answer(error: NoAnswer) -> ApiError:
    return ApiError(503, "timeout", f"{error}; check your open orders before retrying")


def unavailable(error: Unavailable) -> ApiError:
    return ApiError(503, "unavailable", str(error))


def from_validation(error: RequestValidationError) -> ApiError:
    """Describe the first problem pydantic found in a request."""
    first = error.errors()[0]
    kind = first.get("type", "")
    where = [str(part) for part in first.get("loc", ()) if part not in ("body", "query", "path")]
    field = where[-1] if where else None
    if kind == "json_invalid":
        return ApiError(400, "invalid_json", "the body is not valid JSON")
    if not where and kind in ("dict_type", "model_attributes_type"):
        return ApiError(400, "invalid_json", "the body must be a JSON object "
                        "(with Content-Type: application/json)")
    if kind == "missing":
        return ApiError(400, "missing_field", f"{field or 'body'} is required", field)
    message = first.get("msg", "invalid value")
    return ApiError(400, "invalid_field", f"{field or 'body'}: {message}", field)


def install(app: FastAPI) -> None:
    """Answer every error the app can raise in the one shape."""

    async def api_error(request: Request, error: Exception) -> Json:
        assert isinstance(error, ApiError)
        return Json(error.body(), status_code=error.status)

    async def validation(request: Request, error: Exception) -> Json:
        assert isinstance(error, RequestValidationError)
        return await api_error(request, from_validation(error))

    async def refusal(request: Request, error: Exception) -> Json:
        assert isinstance(error, Refused)
        return await api_error(request, refused(error))

    async def timeout(request: Request, error: Exception) -> Json:
        assert isinstance(error, NoAnswer)
        return await api_error(request, no_answer(error))

    async def not_now(request: Request, error: Exception) -> Json:
        assert isinstance(error, Unavailable)
        return await api_error(request, unavailable(error))

    async def http(request: Request, error: Exception) -> Json:
        assert isinstance(error, HTTPException)
        # FastAPI answers a body it cannot even decode (not UTF-8, say) with a bare 400.
        codes = {400: "invalid_json", 404: "not_found", 405: "method_not_allowed",
                 413: "body_too_large"}
        code = codes.get(error.status_code, "http_error")
        return await api_error(request, ApiError(error.status_code, code, str(error.detail)))

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(Refused, refusal)
    app.add_exception_handler(NoAnswer, timeout)
    app.add_exception_handler(Unavailable, not_now)
    app.add_exception_handler(HTTPException, http)
