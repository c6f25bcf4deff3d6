"""The two agents of contract section 4 and how they hand over to each other."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from muralist.agents.prompts import (
    CREATOR,
    CREATOR_INSTRUCTIONS,
    PLANNER,
    PLANNER_INSTRUCTIONS,
    instructions,
)
from muralist.agents.runner import SwarmAgent
from muralist.agents.tools import HandoffTool, TurnTool, WritePlanTool

AGENT_NAMES = (PLANNER, CREATOR)


def build_swarm(
    creator_tools: Sequence[TurnTool],
    system_prompt: str | None = None,
    knowledge: Sequence[dict[str, Any]] = (),
) -> dict[str, SwarmAgent]:
    """The planner (write_plan, hand over) and the creator (generation tools, hand back)."""
    planner = SwarmAgent(
        name=PLANNER,
        instructions=instructions(PLANNER_INSTRUCTIONS, system_prompt, knowledge),
        tools=[WritePlanTool(), HandoffTool(CREATOR, "it makes and edits pictures and videos")],
    )
    creator = SwarmAgent(
        name=CREATOR,
        instructions=instructions(CREATOR_INSTRUCTIONS, system_prompt, knowledge),
        tools=[*creator_tools, HandoffTool(PLANNER, "it plans work that needs several steps")],
    )
    return {PLANNER: planner, CREATOR: creator}
