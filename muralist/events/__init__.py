"""Socket.IO delivery: the only package that talks to the Socket.IO server."""

from muralist.events.hub import EventHub

__all__ = ["EventHub"]
