"""Run one prompt graph on ComfyUI: queue it, follow our prompt's progress, collect its outputs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from muralist.tools.comfyui.client import ComfyUIClient, ComfyUIError, EventStream, OutputFile

logger = logging.getLogger(__name__)

# Called with the text for the chat pill ("" hides it) and a percentage when known.
ProgressCallback = Callable[[str, float | None], Awaitable[None]]

# How often history is asked when the WebSocket is gone; bounded by the run's timeout.
HISTORY_POLL_S = 0.5


def _title(graph: Mapping[str, Any], node_id: Any) -> str:
    node = graph.get(str(node_id))
    if not isinstance(node, dict):
        return str(node_id)
    meta = node.get("_meta")
    if isinstance(meta, dict) and isinstance(meta.get("title"), str) and meta["title"]:
        return meta["title"]
    return str(node.get("class_type") or node_id)


def execution_error_message(data: Mapping[str, Any]) -> str:
    """ComfyUI's execution_error event as one line: the node and its exception."""
    node = f"{data.get('node_type', 'node')} #{data.get('node_id', '?')}"
    kind = data.get("exception_type") or "error"
    # Exception texts span lines (ComfyUI adds hints); one line reads better in a chat.
    message = " ".join(str(data.get("exception_message") or "").split())[:500]
    return (
        f"ComfyUI failed in {node}: {kind}: {message}" if message else f"ComfyUI failed in {node}"
    )


def outputs_from_history(entry: Mapping[str, Any]) -> list[OutputFile]:
    """Every saved file of a finished prompt, in node order; previews only if nothing was saved."""
    saved: list[OutputFile] = []
    previews: list[OutputFile] = []
    outputs = entry.get("outputs")
    for node_id, node_output in (outputs or {}).items() if isinstance(outputs, dict) else ():
        if not isinstance(node_output, dict):
            continue
        # Nodes name their lists differently (images, gifs, videos, ...); each item is a file.
        for items in node_output.values():
            for item in items if isinstance(items, list) else ():
                if not isinstance(item, dict) or not isinstance(item.get("filename"), str):
                    continue
                output = OutputFile(
                    node_id=str(node_id),
                    filename=item["filename"],
                    subfolder=str(item.get("subfolder") or ""),
                    type=str(item.get("type") or "output"),
                )
                (saved if output.type == "output" else previews).append(output)
    return saved or previews


def _history_failure(entry: Mapping[str, Any]) -> str | None:
    """The error recorded in a history entry, for a run whose WebSocket message was missed."""
    status = entry.get("status")
    if not isinstance(status, dict) or status.get("status_str") != "error":
        return None
    for message in status.get("messages") or []:
        if isinstance(message, list) and len(message) == 2 and isinstance(message[1], dict):
            if message[0] == "execution_error":
                return execution_error_message(message[1])
            if message[0] == "execution_interrupted":
                return "ComfyUI run was interrupted"
    return "ComfyUI run failed"


class PromptRun:
    """One queued prompt followed to its end through the client's WebSocket."""

    def __init__(
        self,
        client: ComfyUIClient,
        graph: dict[str, Any],
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.client = client
        self.graph = graph
        self.prompt_id: str | None = None
        self._on_progress = on_progress

    async def _progress(self, text: str, percent: float | None = None) -> None:
        if self._on_progress is not None:
            await self._on_progress(text, percent)

    async def _handle(self, message: Mapping[str, Any]) -> bool:
        """React to one message of ours; True once the prompt has finished."""
        kind, data = message["type"], message["data"]
        if kind == "executing":
            if data.get("node") is None:
                return True
            await self._progress(f"Executing {_title(self.graph, data['node'])}")
        elif kind == "progress":
            value, total = data.get("value"), data.get("max")
            if isinstance(value, (int, float)) and isinstance(total, (int, float)) and total > 0:
                percent = round(100 * value / total)
                title = _title(self.graph, data.get("node"))
                await self._progress(f"Executing {title} {percent}%", float(percent))
        elif kind == "executed":
            await self._progress("")
        elif kind == "execution_error":
            raise ComfyUIError(execution_error_message(data))
        elif kind == "execution_interrupted":
            raise ComfyUIError("ComfyUI run was interrupted")
        return False

    async def _follow(self, events: EventStream) -> None:
        """Read our messages until the prompt finishes or the connection drops."""
        while True:
            message = await events.next()
            if message is None:
                logger.warning("ComfyUI WebSocket closed during prompt %s", self.prompt_id)
                return
            if message["data"].get("prompt_id") != self.prompt_id:
                continue
            if await self._handle(message):
                return

    async def _finished_entry(self) -> dict[str, Any]:
        """The prompt's history entry; polled because it may lag the last WebSocket message."""
        assert self.prompt_id is not None
        while True:
            # ComfyUI writes the entry only once the prompt has left the queue.
            entry = await self.client.history(self.prompt_id)
            if entry is not None:
                return entry
            await asyncio.sleep(HISTORY_POLL_S)

    async def _cancel_quietly(self, why: str) -> None:
        if self.prompt_id is None:
            return
        try:
            outcome = await self.client.cancel(self.prompt_id)
            logger.info("ComfyUI prompt %s %s (%s)", self.prompt_id, outcome, why)
        except ComfyUIError as exc:
            logger.warning("could not cancel ComfyUI prompt %s: %s", self.prompt_id, exc)

    async def run(self, limit_s: float) -> list[OutputFile]:
        """Queue the graph and wait for its outputs; cancel ours on timeout or cancellation."""
        async with self.client.events() as events:
            self.prompt_id = await self.client.queue_prompt(self.graph)
            logger.info("ComfyUI prompt %s queued at %s", self.prompt_id, self.client.base_url)
            try:
                async with asyncio.timeout(limit_s):
                    # Shown until the first node starts: other prompts may run first.
                    await self._progress("Queued on ComfyUI")
                    await self._follow(events)
                    entry = await self._finished_entry()
            except TimeoutError:
                await self._cancel_quietly("timed out")
                await self._progress("")
                raise ComfyUIError(f"ComfyUI run timed out after {limit_s:g} s") from None
            except asyncio.CancelledError:
                # Shielded so the ComfyUI side is cleaned up even though we are being cancelled.
                await asyncio.shield(self._cancel_quietly("cancelled"))
                raise
            except ComfyUIError:
                await self._progress("")
                raise
        await self._progress("")
        failure = _history_failure(entry)
        if failure:
            raise ComfyUIError(failure)
        return outputs_from_history(entry)
