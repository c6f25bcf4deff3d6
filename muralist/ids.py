"""Identifiers and timestamps in the formats the Jaaz UI and database use."""

import secrets
import string
from datetime import UTC, datetime

_URL_ALPHABET = string.ascii_letters + string.digits + "_-"
_NAME_ALPHABET = string.ascii_letters + string.digits


def new_id(size: int = 21) -> str:
    """Return a random nanoid-style id (URL-safe alphabet)."""
    # 64 letters: the low six bits of each random byte pick one, all equally likely (one
    # system call per id instead of one per character).
    return "".join(_URL_ALPHABET[byte & 63] for byte in secrets.token_bytes(size))


def new_name(size: int = 10) -> str:
    """Return a random id made of letters and digits only, safe inside file names."""
    return "".join(secrets.choice(_NAME_ALPHABET) for _ in range(size))


def now_iso() -> str:
    """Return the current UTC time as ISO-8601 with milliseconds, e.g. 2025-07-01T12:34:56.789Z."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def now_ms() -> int:
    """Return the current time in milliseconds since the epoch."""
    return int(datetime.now(UTC).timestamp() * 1000)
