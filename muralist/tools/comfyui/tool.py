"""A saved ComfyUI workflow as a callable tool (contract section 13)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from pydantic import BaseModel

from muralist.errors import MuralistError
from muralist.tools.base import (
    MediaOutput,
    Tool,
    ToolArgumentsError,
    ToolContext,
    ToolError,
    ToolResult,
)
from muralist.tools.comfyui.client import ComfyUIClient, ComfyUIError, OutputFile
from muralist.tools.comfyui.run import PromptRun
from muralist.tools.comfyui.workflow import (
    IMAGE_EXTENSIONS,
    Workflow,
    WorkflowError,
    WorkflowInput,
    args_model,
    build_prompt,
    explicit_values,
    parse_workflow,
)
from muralist.tools.inputs import file_id_of
from muralist.tools.publish import media_markdown, publish_image, publish_video

logger = logging.getLogger(__name__)

# Single HTTP calls (queue, history, one download) are short; the run timeout bounds the rest.
HTTP_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


def comfyui_url(services: Any) -> str:
    """The configured ComfyUI base URL, or "" when none is set."""
    entry = services.config.get("comfyui") or {}
    return str(entry.get("url") or "").strip()


class ComfyUIWorkflowTool(Tool):
    """Runs one stored workflow: uploads input images, queues, follows, stores every output."""

    provider = "comfyui"
    type = "image"  # the UI lists every workflow as an image tool, whatever it outputs
    retry_safe = True  # a local ComfyUI costs nothing to run again

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.id = workflow.tool_id
        self.display_name = workflow.name
        self.description = workflow.description or f"Run ComfyUI workflow {workflow.name}"
        self.args_model = args_model(workflow)

    async def run(self, args: Any, ctx: ToolContext) -> ToolResult:
        """Fill in the workflow, run it on the configured ComfyUI, publish every output."""
        if not isinstance(args, BaseModel):
            args = self.parse_args(args)
        url = comfyui_url(ctx.services)
        if not url:
            raise ToolError("ComfyUI is not configured: set its URL in the settings")
        values = explicit_values(args)
        limit_s = ctx.services.settings.comfyui_timeout_s

        async def on_progress(text: str, percent: float | None) -> None:
            await ctx.progress(text, percent)

        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit_s
        try:
            # The limit covers the whole run: uploads, queue, execution and downloads.
            async with (
                asyncio.timeout_at(deadline),
                ctx.services.http.client(timeout=HTTP_TIMEOUT) as http,
            ):
                client = ComfyUIClient(url, http)
                values = await self._upload_inputs(client, ctx, values)
                graph = build_prompt(self.workflow, values)
                run = PromptRun(client, graph, on_progress)
                outputs = await run.run(max(0.0, deadline - loop.time()))
                if not outputs:
                    raise ToolError(f"workflow {self.workflow.name} saved no image or video")
                media = [await self._publish(client, ctx, output, values) for output in outputs]
        except TimeoutError:
            await ctx.progress("")
            raise ToolError(f"ComfyUI run timed out after {limit_s:g} s") from None
        except ComfyUIError as exc:
            logger.warning("ComfyUI workflow %s failed: %s", self.workflow.name, exc)
            raise ToolError(str(exc)) from exc
        return ToolResult(media_markdown(media), media)

    async def _upload_inputs(
        self, client: ComfyUIClient, ctx: ToolContext, values: dict[str, Any]
    ) -> dict[str, Any]:
        """Replace file-id arguments by the names ComfyUI gave the uploaded pictures."""
        result = dict(values)
        for arg in self.workflow.inputs:
            value = values.get(arg.name)
            if not isinstance(value, str) or not _names_a_file(arg, value):
                continue
            name = file_id_of(value)
            files = ctx.services.files
            try:
                path = files.path(name)
            except MuralistError as exc:
                if arg.takes_image:
                    raise ToolError(f"{arg.name}: {exc.message}") from exc
                continue  # a string that only looks like a file name stays as given
            data = await asyncio.to_thread(path.read_bytes)
            result[arg.name] = await client.upload_image(name, data)
        return result

    async def _publish(
        self,
        client: ComfyUIClient,
        ctx: ToolContext,
        output: OutputFile,
        values: Mapping[str, Any],
    ) -> MediaOutput:
        data, content_type = await client.download(output)
        if output.kind == "video" or content_type.startswith("video/"):
            return await publish_video(ctx, data, content_type=content_type)
        metadata = {
            "prompt": _prompt_of(values),
            "provider": "comfyui",
            "model": self.id,
            "workflow": self.workflow.name,
            "arguments": dict(values),
        }
        return await publish_image(ctx, data, metadata=metadata)


def _prompt_of(values: Mapping[str, Any]) -> str | None:
    """The run's prompt for the PNG metadata: `prompt`, else the first `text...` argument."""
    if isinstance(values.get("prompt"), str):
        return str(values["prompt"])
    for name, value in values.items():
        if isinstance(value, str) and name.lower().startswith(("prompt", "text")):
            return value
    return None


def _names_a_file(arg: WorkflowInput, value: str) -> bool:
    return arg.takes_image or file_id_of(value).lower().endswith(IMAGE_EXTENSIONS)


def workflow_tools(rows: Iterable[Mapping[str, Any]]) -> list[Tool]:
    """One tool per stored workflow row; a row that cannot become a tool is logged and skipped."""
    tools: list[Tool] = []
    for row in rows:
        try:
            tools.append(ComfyUIWorkflowTool(parse_workflow(row)))
        except (WorkflowError, ToolArgumentsError) as exc:
            logger.warning("ComfyUI workflow %r is not usable as a tool: %s", row.get("name"), exc)
    return tools
