"""The turn runner: drives the planner / creator swarm through one chat turn.

It streams each model step, maps pydantic-ai's stream events onto our turn events, runs the
tool calls of a step (concurrently, each emitting its own result), switches agents on a
handoff and keeps the conversation in OpenAI format for storage and `all_messages`. Events go
to a sink the caller provides; the caller stores and emits them.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from pydantic_ai.direct import model_request_stream
from pydantic_ai.exceptions import ModelAPIError, UnexpectedModelBehavior
from pydantic_ai.messages import (
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    SystemPromptPart,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    ToolCallPartDelta,
    ToolReturnPart,
)
from pydantic_ai.models import Model, ModelRequestParameters
from pydantic_ai.settings import ModelSettings

from muralist.agents.events import (
    AllMessages,
    Message,
    MessageCompleted,
    TextDelta,
    ToolCallArguments,
    ToolCallPending,
    ToolCallResult,
    ToolCallStarted,
    TurnEvent,
)
from muralist.agents.history import args_text, response_to_message, to_model_messages
from muralist.agents.models import describe_error
from muralist.agents.tools import CANCELLED_TEXT, CallContext, ToolInputError, TurnTool
from muralist.tools.base import ToolError

logger = logging.getLogger(__name__)

Sink = Callable[[TurnEvent], Awaitable[None]]
Confirmer = Callable[[str], Awaitable[bool]]
STOPPED_TEXT = "The user stopped the turn before this tool finished."
# How long a stopped turn waits for its cancelled tool calls to clean up (a provider's cancel
# call, a ComfyUI queue entry removed) before it ends and leaves them to finish on their own.
TOOL_STOP_GRACE_S = 0.5
# Tool calls still cleaning up after their turn ended; kept so they are not garbage-collected.
_cleaning_up: set[asyncio.Task[None]] = set()


class TurnFailed(Exception):
    """The turn cannot go on; the message is what the user sees in the `error` event."""


@dataclass(frozen=True)
class TurnBudget:
    """Caps per turn: model requests (steps) and tokens (input plus output, summed)."""

    max_steps: int = 30
    max_tokens: int = 2_000_000


@dataclass
class SwarmAgent:
    """One agent of the swarm: its name, instructions and tools."""

    name: str
    instructions: str
    tools: list[TurnTool] = field(default_factory=list)

    def tool(self, name: str) -> TurnTool | None:
        return next((tool for tool in self.tools if tool.name == name), None)


@dataclass
class _OpenCall:
    id: str
    name: str
    announced: bool = False
    hidden: bool = False


class TurnRunner:
    """Runs one turn; `interrupted_messages()` tells what to keep after a cancel."""

    def __init__(
        self,
        *,
        model: Model,
        provider: str,
        agents: dict[str, SwarmAgent],
        active: str,
        history: list[Message],
        session_id: str,
        canvas_id: str | None,
        sink: Sink,
        confirm: Confirmer | None = None,
        budget: TurnBudget | None = None,
        model_settings: ModelSettings | None = None,
    ) -> None:
        self._model = model
        self._provider = provider
        self._agents = agents
        self.active = active if active in agents else next(iter(agents))
        self.conversation: list[Message] = list(history)
        self._model_history: list[ModelMessage] = to_model_messages(history)
        self._session_id = session_id
        self._canvas_id = canvas_id
        self._sink = sink
        self._confirm = confirm
        self._budget = budget or TurnBudget()
        self._settings = model_settings
        self.steps = 0
        self.tokens = 0
        self._partial_text = ""
        self._unanswered: dict[str, str] = {}  # tool_call_id -> tool name, while tools run
        self._awaiting_confirmation: set[str] = set()  # tool_call_ids whose card is shown
        self._stopped = False  # set when the turn stops while tools run; late results are dropped

    async def run(self) -> None:
        """Run model steps and their tool calls until the model answers without tools."""
        while True:
            agent = self._agents[self.active]
            response = await self._model_step(agent)
            message = response_to_message(response, agent.name)
            self._model_history.append(response)
            self.conversation.append(message)
            await self._sink(MessageCompleted(message))
            await self._sink(AllMessages(list(self.conversation)))
            self._check_tokens()
            calls = [part for part in response.parts if isinstance(part, ToolCallPart)]
            if not calls:
                return
            handoff = await self._run_tools(agent, calls)
            await self._sink(AllMessages(list(self.conversation)))
            if handoff:
                logger.debug(
                    "session %s: %s hands over to %s", self._session_id, agent.name, handoff
                )
                self.active = handoff

    def interrupted_messages(self) -> list[Message]:
        """Messages to keep after a cancel: the partial answer, or stopped tool calls."""
        kept: list[Message] = []
        if self._partial_text:
            kept.append({"role": "assistant", "content": self._partial_text, "name": self.active})
        for call_id, name in self._unanswered.items():
            # A call stopped at its confirmation card reads as cancelled, as the UI showed it.
            text = CANCELLED_TEXT if call_id in self._awaiting_confirmation else STOPPED_TEXT
            kept.append({"role": "tool", "tool_call_id": call_id, "content": text, "name": name})
        self._partial_text = ""
        self._unanswered = {}
        self.conversation.extend(kept)
        return kept

    @property
    def partial_message(self) -> Message | None:
        """The assistant message being streamed right now, as far as it got."""
        if not self._partial_text:
            return None
        return {"role": "assistant", "content": self._partial_text, "name": self.active}

    # One model step ---------------------------------------------------------------------

    async def _model_step(self, agent: SwarmAgent) -> ModelResponse:
        if self.steps >= self._budget.max_steps:
            raise TurnFailed(
                f"The turn stopped: it used its budget of {self._budget.max_steps} "
                "model calls. Send a new message to continue."
            )
        self.steps += 1
        params = ModelRequestParameters(
            function_tools=[t.definition() for t in agent.tools], allow_text_output=True
        )
        messages = self._with_instructions(agent.instructions)
        calls: dict[int, _OpenCall] = {}
        self._partial_text = ""
        try:
            async with model_request_stream(
                self._model,
                messages,
                model_settings=self._settings,
                model_request_parameters=params,
            ) as stream:
                async for event in stream:
                    if isinstance(event, PartStartEvent):
                        await self._on_part_start(agent, event, calls)
                    elif isinstance(event, PartDeltaEvent):
                        await self._on_part_delta(agent, event, calls)
                response = stream.get()
        except (ModelAPIError, UnexpectedModelBehavior) as exc:
            raise TurnFailed(describe_error(exc, self._provider, self._model.model_name)) from exc
        self._partial_text = ""
        self.tokens += response.usage.input_tokens + response.usage.output_tokens
        return response

    def _with_instructions(self, instructions: str) -> list[ModelMessage]:
        system = SystemPromptPart(content=instructions)
        history = self._model_history
        if history and isinstance(history[0], ModelRequest):
            first = ModelRequest(parts=[system, *history[0].parts])
            return [first, *history[1:]]
        return [ModelRequest(parts=[system]), *history]

    async def _on_part_start(
        self, agent: SwarmAgent, event: PartStartEvent, calls: dict[int, _OpenCall]
    ) -> None:
        part = event.part
        if isinstance(part, TextPart):
            if part.content:
                self._partial_text += part.content
                await self._sink(TextDelta(part.content))
        elif isinstance(part, ToolCallPart):
            call = calls[event.index] = _OpenCall(part.tool_call_id, part.tool_name)
            await self._announce(agent, call)
            if part.args:
                await self._arguments(call, args_text(part.args))

    async def _on_part_delta(
        self, agent: SwarmAgent, event: PartDeltaEvent, calls: dict[int, _OpenCall]
    ) -> None:
        delta = event.delta
        if isinstance(delta, TextPartDelta):
            if delta.content_delta:
                self._partial_text += delta.content_delta
                await self._sink(TextDelta(delta.content_delta))
        elif isinstance(delta, ToolCallPartDelta):
            call = calls.get(event.index)
            if call is None:
                return
            if delta.tool_name_delta:
                call.name += delta.tool_name_delta
                await self._announce(agent, call)
            if delta.args_delta:
                await self._arguments(call, args_text(delta.args_delta))

    async def _announce(self, agent: SwarmAgent, call: _OpenCall) -> None:
        if call.announced or not call.name:
            return
        call.announced = True
        tool = agent.tool(call.name)
        # A call that waits for confirmation appears in the UI with its pending event instead.
        call.hidden = bool(tool and tool.needs_confirmation)
        if not call.hidden:
            await self._sink(ToolCallStarted(call.id, call.name))

    async def _arguments(self, call: _OpenCall, text: str) -> None:
        if call.announced and not call.hidden and text:
            await self._sink(ToolCallArguments(call.id, text))

    def _check_tokens(self) -> None:
        if self.tokens > self._budget.max_tokens:
            raise TurnFailed(
                f"The turn stopped: it used {self.tokens} tokens, over its budget "
                f"of {self._budget.max_tokens}. Send a new message to continue."
            )

    # Tool calls -------------------------------------------------------------------------

    async def _run_tools(self, agent: SwarmAgent, calls: list[ToolCallPart]) -> str | None:
        self._unanswered = {call.tool_call_id: call.tool_name for call in calls}
        returns: list[ToolReturnPart] = []
        handoff: str | None = None
        tasks = [asyncio.create_task(self._run_tool(agent, call, returns)) for call in calls]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # a sink failure ends the turn like any other error
        except BaseException:
            await self._stop_tools(tasks)
            raise
        for call in calls:
            tool = agent.tool(call.tool_name)
            if tool is not None and tool.handoff_to and handoff is None:
                handoff = tool.handoff_to
        self._model_history.append(ModelRequest(parts=returns))
        return handoff

    async def _run_tool(
        self, agent: SwarmAgent, call: ToolCallPart, returns: list[ToolReturnPart]
    ) -> None:
        text = await self._tool_text(agent, call)
        message = {
            "role": "tool",
            "tool_call_id": call.tool_call_id,
            "content": text,
            "name": call.tool_name,
        }
        if self._stopped:
            return
        self._unanswered.pop(call.tool_call_id, None)
        returns.append(
            ToolReturnPart(tool_name=call.tool_name, content=text, tool_call_id=call.tool_call_id)
        )
        self.conversation.append(message)
        await self._sink(ToolCallResult(call.tool_call_id, message))
        await self._sink(MessageCompleted(message))

    async def _stop_tools(self, tasks: list[asyncio.Task[None]]) -> None:
        """Cancel the step's tool calls; the turn ends within the grace period whatever they do.

        A tool that is being cancelled may still make a provider's cancel call, which can take
        seconds; it finishes in the background instead of holding the session.
        """
        self._stopped = True
        for task in tasks:
            task.cancel()
        running = [task for task in tasks if not task.done()]
        if running:
            await asyncio.wait(running, timeout=TOOL_STOP_GRACE_S)
        for task in tasks:
            if task.done():
                _retrieve(task)
            else:
                logger.info(
                    "session %s: a stopped tool call is still cleaning up", self._session_id
                )
                _cleaning_up.add(task)
                task.add_done_callback(_cleaning_up.discard)
                task.add_done_callback(_retrieve)

    async def _tool_text(self, agent: SwarmAgent, call: ToolCallPart) -> str:
        tool = agent.tool(call.tool_name)
        if tool is None:
            known = ", ".join(t.name for t in agent.tools) or "none"
            return f"Error: there is no tool named {call.tool_name!r}. Available tools: {known}."
        raw = args_text(call.args)
        try:
            args = tool.parse(raw)
        except ToolInputError as exc:
            return f"Error: invalid arguments for {call.tool_name}: {exc}. Fix them and retry."
        if tool.needs_confirmation and not await self._confirmed(call, raw):
            return CANCELLED_TEXT
        context = CallContext(self._session_id, self._canvas_id, call.tool_call_id)
        try:
            return await tool.call(args, context)
        except ToolError as exc:
            return f"Error: {call.tool_name} failed: {exc.message}"
        except Exception as exc:  # a broken tool must not end the turn; the model can explain
            logger.exception("tool %s failed unexpectedly", call.tool_name)
            return f"Error: {call.tool_name} failed unexpectedly: {type(exc).__name__}: {exc}"

    async def _confirmed(self, call: ToolCallPart, raw: str) -> bool:
        if self._confirm is None:
            return False
        pretty = json.dumps(json.loads(raw), ensure_ascii=False) if raw else "{}"
        await self._sink(ToolCallPending(call.tool_call_id, call.tool_name, pretty))
        self._awaiting_confirmation.add(call.tool_call_id)
        answer = await self._confirm(call.tool_call_id)
        self._awaiting_confirmation.discard(call.tool_call_id)
        return answer


def _retrieve(task: asyncio.Task[None]) -> None:
    """Read a stopped tool call's outcome, so an error in its clean-up is logged once."""
    if not task.cancelled() and task.exception() is not None:
        logger.warning("a stopped tool call failed while cleaning up", exc_info=task.exception())


async def wait_for_stopped_tools(timeout_s: float) -> None:
    """At shutdown: give tool calls still cleaning up (cancel calls) a moment to end."""
    if _cleaning_up:
        await asyncio.wait(set(_cleaning_up), timeout=timeout_s)
