"""Text out of Redis replies: our clients keep raw bytes, redis-py types them `bytes | str`."""


def as_text(value: bytes | str) -> str:
    """A Redis reply item as text (UTF-8)."""
    return value.decode() if isinstance(value, bytes) else value
