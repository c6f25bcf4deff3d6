"""Error responses: every failure is {"detail": message} with the right status."""

import logging

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from muralist.errors import MuralistError

log = logging.getLogger(__name__)


async def _muralist_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, MuralistError)
    return JSONResponse({"detail": exc.message}, status_code=exc.status)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return JSONResponse({"detail": "internal error; the server log has the details"}, 500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(MuralistError, _muralist_error)
    app.add_exception_handler(Exception, _unexpected)
