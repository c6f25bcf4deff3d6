"""Follow configuration changes made by other processes (scaled mode).

A `muralist worker` never sees the POST /api/config that a server answered, yet it runs the
tools that configuration enables. Processes of one deployment share the data directory, so
before a task runs the follower re-reads config.toml and settings.json when either file
changed, and rebuilds the tool registry (which also picks up ComfyUI workflows saved through
another process).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from muralist.services import Services

logger = logging.getLogger(__name__)

Stamp = tuple[int, int] | None


def _stamp(path: Path) -> Stamp:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size


class ConfigFollower:
    """Reloads provider config, user settings and tools when their files changed on disk."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._paths = (services.config.path, services.user_settings.path)
        self._seen = [_stamp(path) for path in self._paths]

    async def refresh(self, force: bool = False) -> None:
        """Reload what changed since the last look; with `force`, rebuild the tools anyway."""
        stamps = [_stamp(path) for path in self._paths]
        changed = stamps != self._seen
        if not changed and not force:
            return
        self._seen = stamps
        if changed:
            try:
                self._services.config.load()
                self._services.user_settings.load()
            except ValueError:  # a half-edited file by hand: keep what we had
                logger.warning("could not reload the configuration", exc_info=True)
                return
            logger.info("configuration changed on disk; reloaded")
        await self._services.tools.rebuild()
