"""write_plan: the planner's tool; it only records the plan (the UI renders the arguments)."""

from __future__ import annotations

from typing import Any

from muralist.tools.args import WritePlanArgs
from muralist.tools.base import Tool, ToolContext, ToolResult

PLAN_RESULT = (
    "<hide_in_user_ui> Plan made. Now you can start executing the plan, or handoff to the "
    "next agent."
)


class WritePlanTool(Tool):
    """Hidden system tool; returns the hidden acknowledgement text."""

    id = "write_plan"
    provider = "system"
    type = "system"
    display_name = "Write plan"
    description = (
        "Write a short plan of high-level steps for a multi-step request, before handing off."
    )
    args_model = WritePlanArgs
    listed = False
    retry_safe = True

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        return ToolResult(PLAN_RESULT)
