"""Errors that carry their HTTP status; the API turns them into {"detail": message}."""


class MuralistError(Exception):
    """Base of the errors a caller can act on; `status` is the HTTP status to answer with."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(MuralistError):
    status = 400


class Forbidden(MuralistError):
    status = 403


class NotFound(MuralistError):
    status = 404


class Conflict(MuralistError):
    status = 409


class PayloadTooLarge(MuralistError):
    status = 413


class UnsupportedMediaType(MuralistError):
    status = 415


class UpstreamError(MuralistError):
    """An outside service (provider, ComfyUI) failed or answered badly."""

    status = 502


class Unavailable(MuralistError):
    status = 503
