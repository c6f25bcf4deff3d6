"""Error responses: every failure is {"detail": message} with the right status."""

import json
import logging
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError

from muralist.errors import MuralistError

log = logging.getLogger(__name__)


class ErrorResponse(JSONResponse):
    """JSON with non-ASCII escaped: error bodies echo the client's text, and a lone surrogate
    it sent (a valid JSON escape such as \\ud800) cannot be encoded as UTF-8."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, allow_nan=False, separators=(",", ":")).encode("ascii")


async def _muralist_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MuralistError)
    return ErrorResponse({"detail": exc.message}, status_code=exc.status)


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    # FastAPI's own shape (422, a list of errors naming each field), rendered safely.
    assert isinstance(exc, RequestValidationError)
    return ErrorResponse({"detail": jsonable_encoder(exc.errors())}, status_code=422)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return ErrorResponse({"detail": "internal error; the server log has the details"}, 500)


async def _invalid_outgoing_url(request: Request, exc: Exception) -> JSONResponse:
    # URLs are checked when saved, so this is a config.toml or settings.json edited by hand:
    # the server could not make its outgoing call, which is a bad gateway, not a crash.
    log.warning("invalid outgoing URL in %s %s: %s", request.method, request.url.path, exc)
    message = f"an outgoing request has an invalid URL ({exc}); check the provider settings"
    return ErrorResponse({"detail": message}, 502)


# PostgreSQL's "character not in repertoire": it cannot store NUL (U+0000) in text, which
# SQLite can; a NUL in any id, name or body field would otherwise answer 500 there.
_NUL_IN_TEXT = "22021"


async def _database_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DBAPIError)
    if getattr(exc.orig, "sqlstate", None) != _NUL_IN_TEXT:
        return await _unexpected(request, exc)
    given = {**request.query_params, **request.path_params}
    field = next((name for name, value in given.items() if "\x00" in str(value)), "body")
    return ErrorResponse({"detail": f"{field}: text may not contain NUL (\\u0000) characters"}, 400)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MuralistError, _muralist_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_exception_handler(DBAPIError, _database_error)
    app.add_exception_handler(httpx.InvalidURL, _invalid_outgoing_url)
    app.add_exception_handler(Exception, _unexpected)
