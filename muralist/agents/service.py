"""ChatService: accepts chat and magic turns, runs them in the background, cancels them.

Registered at `services.chat` by `muralist.agents.attach.attach_chat`.
"""

from __future__ import annotations

import asyncio
import logging
import urllib.request
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from muralist.agents.confirmations import ToolConfirmations
from muralist.agents.history import last_agent, repair_history, session_title
from muralist.agents.magic import MagicFlow
from muralist.agents.models import ModelConfigError, ModelFactory
from muralist.agents.prompts import PLANNER
from muralist.agents.recorder import TurnRecorder
from muralist.agents.requests import TurnRequest
from muralist.agents.runner import TurnBudget, TurnFailed, TurnRunner, wait_for_stopped_tools
from muralist.agents.swarm import AGENT_NAMES, build_swarm
from muralist.agents.tools import generation_tools
from muralist.agents.turns import TurnRegistry
from muralist.agents.turns_redis import RedisTurns
from muralist.errors import NotFound

if TYPE_CHECKING:
    from muralist.services import Services

logger = logging.getLogger(__name__)


def proxy_url(setting: str) -> str | None:
    """The proxy for language-model calls from the settings value (see contract §14)."""
    if setting in ("", "no_proxy"):
        return None
    if setting == "system":
        found = urllib.request.getproxies()
        return found.get("https") or found.get("http") or None
    return setting


class ChatService:
    """Runs one turn per session at a time; every turn ends with exactly one `done`."""

    def __init__(
        self,
        services: Services,
        *,
        budget: TurnBudget | None = None,
        confirm_timeout_s: float | None = None,
        factory: ModelFactory | None = None,
    ) -> None:
        self._services = services
        self.budget = budget or TurnBudget()
        settings = services.settings
        self.turns: TurnRegistry = (
            RedisTurns(settings.redis_url, settings.redis_prefix, self.answer_here)
            if settings.redis_url
            else TurnRegistry()
        )
        self.confirmations = ToolConfirmations()
        if confirm_timeout_s is not None:
            self.confirmations.timeout_s = confirm_timeout_s
        self.factory = factory or ModelFactory()

    # Starting turns ---------------------------------------------------------------------

    async def start_chat(self, request: TurnRequest) -> None:
        """Store the new message and start the swarm turn; 409 while the session is busy."""
        await self._start(request, lambda recorder: self._chat_turn(request, recorder))

    async def start_magic(self, request: TurnRequest) -> None:
        """Store the snapshot message and start the magic turn (section 11)."""
        flow = MagicFlow(self._services, self.factory, proxy_url(self._proxy_setting()))
        await self._start(request, lambda recorder: self._magic_turn(request, flow, recorder))

    async def _start(
        self, request: TurnRequest, turn: Callable[[TurnRecorder], Awaitable[None]]
    ) -> None:
        await self.turns.reserve(request.session_id)
        try:
            await self._record_start(request)
        except BaseException:
            await self.turns.release(request.session_id)
            raise
        recorder = TurnRecorder(self._services, request.session_id)
        task = asyncio.create_task(self._guarded(request.session_id, recorder, turn))
        self.turns.start(request.session_id, task)

    async def _record_start(self, request: TurnRequest) -> None:
        store = self._services.store
        existing = await store.sessions.get(request.session_id)
        title = session_title(request.messages[0])
        if existing is None:
            if request.canvas_id and not await store.canvases.exists(request.canvas_id):
                raise NotFound(f"canvas_id: canvas {request.canvas_id!r} not found")
            await store.sessions.create(
                request.session_id,
                canvas_id=request.canvas_id,
                title=title,
                model=request.model or "gpt",
                provider=request.provider or "jaaz",
            )
        else:
            # `updated_at` moves when a turn starts (a new session starts with it set).
            await store.sessions.touch(
                request.session_id, title=None if existing.get("title") else title or None
            )
        await store.messages.add(request.session_id, request.new_message)

    async def _guarded(
        self,
        session_id: str,
        recorder: TurnRecorder,
        turn: Callable[[TurnRecorder], Awaitable[None]],
    ) -> None:
        """Run a turn, then always send its one `done` and free the session."""
        try:
            if self.turns.begin(session_id):
                await turn(recorder)
            else:
                logger.info("turn of session %s cancelled before it started", session_id)
        except asyncio.CancelledError:
            logger.info("turn of session %s cancelled", session_id)
        except Exception as exc:  # a bug must still end the turn properly for the UI
            logger.exception("turn of session %s failed", session_id)
            recorder.send("error", error=f"Internal error: {type(exc).__name__}: {exc}")
        finally:
            recorder.send("done")
            await recorder.flush()
            await self.turns.release(session_id)

    # The chat turn ----------------------------------------------------------------------

    async def _chat_turn(self, request: TurnRequest, recorder: TurnRecorder) -> None:
        services = self._services
        history = repair_history(request.messages)
        try:
            model = self.factory.build(
                request.provider,
                services.provider_entry(request.provider),
                request.model,
                proxy_url(self._proxy_setting()),
            )
        except ModelConfigError as exc:
            recorder.send("error", error=f"{exc}; fix it in Settings.")
            return
        agents = build_swarm(
            generation_tools(services, request.tool_list),
            request.system_prompt or services.user_settings.get("system_prompt"),
            self._knowledge(),
        )
        runner = TurnRunner(
            model=model,
            provider=request.provider,
            agents=agents,
            active=last_agent(history, AGENT_NAMES, PLANNER),
            history=history,
            session_id=request.session_id,
            canvas_id=request.canvas_id,
            sink=recorder,
            confirm=lambda call_id: self._confirmation(request.session_id, call_id),
            budget=self.budget,
        )
        recorder.partial = lambda: runner.partial_message
        try:
            await runner.run()
        except TurnFailed as exc:
            await recorder.keep(runner.interrupted_messages())
            recorder.send("error", error=str(exc))
        except BaseException:
            # A cancel, or a bug: what was said so far (partial text included) is kept.
            await recorder.keep(runner.interrupted_messages())
            await recorder.all_messages(runner.conversation)
            raise

    async def _magic_turn(
        self, request: TurnRequest, flow: MagicFlow, recorder: TurnRecorder
    ) -> None:
        reply = await flow.run(request)
        await recorder.keep([reply])
        await recorder.all_messages([*request.messages, reply])

    def _knowledge(self) -> list[dict]:
        data = self._services.user_settings.get("enabled_knowledge_data")
        return [entry for entry in data if isinstance(entry, dict)]

    def _proxy_setting(self) -> str:
        return str(self._services.user_settings.get("proxy") or "")

    # Cancel and confirmation ------------------------------------------------------------

    async def cancel(self, session_id: str) -> bool:
        """Stop the session's turn (chat or magic); False when none was running."""
        return await self.turns.cancel(session_id)

    async def _confirmation(self, session_id: str, tool_call_id: str) -> bool:
        await self.turns.mark_pending(session_id, tool_call_id, self.confirmations.timeout_s)
        try:
            answer = await self.confirmations.wait(session_id, tool_call_id)
        except asyncio.CancelledError:
            # The turn stopped while the card waited: close it in the UI as cancelled.
            await self._services.events.session(session_id, "tool_call_cancelled", id=tool_call_id)
            raise
        finally:
            await self.turns.unmark_pending(session_id, tool_call_id)
        if answer is None:  # nobody answered in time
            await self._services.events.session(session_id, "tool_call_cancelled", id=tool_call_id)
        return bool(answer)

    async def confirm_tool(self, session_id: str, tool_call_id: str, confirmed: bool) -> bool:
        """Answer a pending confirmation and tell the UI; False when nothing waits for it."""
        if await self.answer_here(session_id, tool_call_id, confirmed):
            return True
        return await self.turns.relay_confirmation(session_id, tool_call_id, confirmed)

    async def answer_here(self, session_id: str, tool_call_id: str, confirmed: bool) -> bool:
        """Answer a confirmation that waits in this process."""
        if not self.confirmations.resolve(session_id, tool_call_id, confirmed):
            return False
        kind = "tool_call_confirmed" if confirmed else "tool_call_cancelled"
        await self._services.events.session(session_id, kind, id=tool_call_id)
        return True

    async def aclose(self) -> None:
        """Cancel running turns and close the providers' HTTP clients."""
        await self.turns.close()
        await wait_for_stopped_tools(timeout_s=5.0)
        await self.factory.aclose()
