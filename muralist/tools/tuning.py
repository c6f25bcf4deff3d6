"""Run-time knobs of the provider clients: timeouts and how fast polls repeat.

Production uses the defaults. Tests and benchmarks put a `Tuning` into
`services.extras["tool_tuning"]` so polls against loopback fakes take milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import httpx

from muralist.tools.providers.common import DEFAULT_TIMEOUT, PollPolicy

if TYPE_CHECKING:
    from muralist.services import Services

EXTRAS_KEY = "tool_tuning"


@dataclass(frozen=True)
class Tuning:
    """Timeout of provider calls and a factor applied to every poll interval."""

    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    poll_scale: float = 1.0

    def poll(self, policy: PollPolicy) -> PollPolicy:
        """The policy with its interval scaled (the number of checks stays bounded)."""
        return PollPolicy(policy.interval_s * self.poll_scale, policy.max_polls)


def tuning(services: Services) -> Tuning:
    """The tuning in force for these services."""
    found = services.extras.get(EXTRAS_KEY)
    return found if isinstance(found, Tuning) else Tuning()
