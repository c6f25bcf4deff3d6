"""A loopback fake of ComfyUI's HTTP + WebSocket API (aiohttp, like ComfyUI itself).

Speaks the protocol of ComfyUI 0.3.x: POST /prompt (validation with node_errors), /queue,
/interrupt, /history/{id}, /view, /upload/image, /system_stats, /object_info and
/ws?clientId= with status, execution_start, execution_cached, executing, progress, executed,
execution_success, execution_error and execution_interrupted messages sent to the client that
queued the prompt. Prompts run one at a time on the fake's event loop.

Test controls: `gate` (clear it to hold a FakeSampler mid-run), `prompts` (bodies received;
`await wait_for_prompts(n)`), `uploads`, `deleted`, `interrupts`, `drop_sockets_on_queue`
(close every WebSocket when a prompt is queued, to test the history fallback).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiohttp import WSMsgType, web

from tests.fakes.comfyui_nodes import (
    NODE_CLASSES,
    NodeFailure,
    RunContext,
    comfy_error,
    execution_order,
    validate_prompt,
)


class FakeComfyUI:
    """Start with `async with FakeComfyUI() as comfy:`; `comfy.url` is its base URL."""

    def __init__(self) -> None:
        self.inputs: dict[str, bytes] = {}
        self.outputs: dict[str, bytes] = {}
        self.history: dict[str, dict[str, Any]] = {}
        self.prompts: list[dict[str, Any]] = []
        self.uploads: list[dict[str, str]] = []
        self.deleted: list[str] = []
        self.interrupts: list[dict[str, Any]] = []
        self.gate = asyncio.Event()
        self.gate.set()
        # Clear it to hold uploads (a ComfyUI too busy to answer) until it is set again.
        self.upload_gate = asyncio.Event()
        self.upload_gate.set()
        self.drop_sockets_on_queue = False
        self._arrived = asyncio.Condition()
        self._pending: list[tuple[str, dict[str, Any], str | None]] = []
        self._running: tuple[str, dict[str, Any], str | None] | None = None
        self._interrupted = False
        self._wakeup = asyncio.Event()
        self._sockets: dict[str, web.WebSocketResponse] = {}
        self._counter: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self._worker: asyncio.Task[None] | None = None
        self.url = ""

    async def __aenter__(self) -> FakeComfyUI:
        app = web.Application()
        app.add_routes(
            [
                web.get("/ws", self._ws),
                web.post("/prompt", self._post_prompt),
                web.get("/prompt", self._get_prompt),
                web.get("/queue", self._get_queue),
                web.post("/queue", self._post_queue),
                web.post("/interrupt", self._interrupt),
                web.get("/history/{prompt_id}", self._get_history),
                web.get("/view", self._view),
                web.post("/upload/image", self._upload),
                web.get("/system_stats", self._stats),
                web.get("/object_info", self._object_info),
            ]
        )
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        self._worker = asyncio.create_task(self._work())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._worker is not None:
            self._worker.cancel()
        for ws in list(self._sockets.values()):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for_prompts(self, count: int) -> None:
        """Return once `count` prompts have been posted (queued or rejected)."""
        async with self._arrived:
            await self._arrived.wait_for(lambda: len(self.prompts) >= count)

    # ---- messages -------------------------------------------------------------------------

    def _queue_info(self) -> dict[str, Any]:
        remaining = len(self._pending) + (1 if self._running else 0)
        return {"exec_info": {"queue_remaining": remaining}}

    async def _send(self, kind: str, data: dict[str, Any], sid: str | None) -> None:
        """To one client id like ComfyUI's send_sync, or to all when sid is None."""
        targets = list(self._sockets.values()) if sid is None else [self._sockets.get(sid)]
        for ws in targets:
            if ws is not None and not ws.closed:
                await ws.send_json({"type": kind, "data": data})

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        sid = request.query.get("clientId") or uuid.uuid4().hex
        self._sockets[sid] = ws
        await self._send("status", {"status": self._queue_info(), "sid": sid}, sid)
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            if self._sockets.get(sid) is ws:
                del self._sockets[sid]
        return ws

    # ---- queue -------------------------------------------------------------

    async def _post_prompt(self, request: web.Request) -> web.Response:
        body = await request.json()
        async with self._arrived:
            self.prompts.append(body)
            self._arrived.notify_all()
        if "prompt" not in body:
            error = comfy_error("no_prompt", "No prompt provided", "No prompt provided")
            return web.json_response({"error": error, "node_errors": {}}, status=400)
        rejection = validate_prompt(body["prompt"], self._context())
        if rejection is not None:
            return web.json_response(rejection, status=400)
        prompt_id = str(body.get("prompt_id") or uuid.uuid4())
        self._pending.append((prompt_id, body["prompt"], body.get("client_id")))
        number = len(self.prompts)
        self._wakeup.set()
        if self.drop_sockets_on_queue:
            for ws in list(self._sockets.values()):
                await ws.close()
        return web.json_response({"prompt_id": prompt_id, "number": number, "node_errors": {}})

    def _items(self, entries: list[tuple[str, dict[str, Any], str | None]]) -> list[list[Any]]:
        return [
            [n, pid, graph, {"client_id": cid}, []] for n, (pid, graph, cid) in enumerate(entries)
        ]

    async def _get_prompt(self, request: web.Request) -> web.Response:
        return web.json_response(self._queue_info())

    async def _get_queue(self, request: web.Request) -> web.Response:
        running = [self._running] if self._running else []
        return web.json_response(
            {"queue_running": self._items(running), "queue_pending": self._items(self._pending)}
        )

    async def _post_queue(self, request: web.Request) -> web.Response:
        body = await request.json()
        for prompt_id in body.get("delete") or []:
            self.deleted.append(prompt_id)
            self._pending = [item for item in self._pending if item[0] != prompt_id]
        return web.Response(status=200)

    async def _interrupt(self, request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        self.interrupts.append(body)
        target = body.get("prompt_id")
        if self._running and (target is None or target == self._running[0]):
            self._interrupted = True
            self.gate.set()
        return web.Response(status=200)

    # ---- files ----------------------------------------------------------------------------

    async def _get_history(self, request: web.Request) -> web.Response:
        prompt_id = request.match_info["prompt_id"]
        entry = self.history.get(prompt_id)
        return web.json_response({prompt_id: entry} if entry else {})

    async def _view(self, request: web.Request) -> web.Response:
        name = request.query.get("filename", "")
        if "/" in name or ".." in name:
            return web.Response(status=400)
        store = self.outputs if request.query.get("type", "output") != "input" else self.inputs
        data = store.get(name)
        if data is None:
            return web.Response(status=404)
        kind = "video/mp4" if name.endswith(".mp4") else "image/png"
        return web.Response(body=data, content_type=kind)

    async def _upload(self, request: web.Request) -> web.Response:
        await self.upload_gate.wait()
        form = await request.post()
        image = form.get("image")
        if not isinstance(image, web.FileField) or not image.filename:
            return web.Response(status=400)
        subfolder = str(form.get("subfolder") or "")
        key = f"{subfolder}/{image.filename}" if subfolder else image.filename
        self.inputs[key] = image.file.read()
        self.uploads.append(
            {
                "name": image.filename,
                "subfolder": subfolder,
                "type": str(form.get("type") or "input"),
                "overwrite": str(form.get("overwrite") or ""),
            }
        )
        return web.json_response({"name": image.filename, "subfolder": subfolder, "type": "input"})

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response({"system": {"comfyui_version": "0.3.75-fake"}, "devices": []})

    async def _object_info(self, request: web.Request) -> web.Response:
        info = {
            name: {
                "input": {"required": {k: ["*"] for k in cls.required}},
                "output_node": cls.output_node,
            }
            for name, cls in NODE_CLASSES.items()
        }
        return web.json_response(info)

    # ---- execution ------------------------------------------------------------------------

    def _context(self, report: Any = None) -> RunContext:
        return RunContext(self.inputs, self.outputs, report, self.gate, self._counter)

    async def _work(self) -> None:
        while True:
            if not self._pending:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            self._running = self._pending.pop(0)
            self._interrupted = False
            try:
                await self._execute(*self._running)
            finally:
                self._running = None
            await self._send("status", {"status": self._queue_info()}, None)

    async def _execute(self, prompt_id: str, graph: dict[str, Any], sid: str | None) -> None:
        def stamp(data: dict[str, Any]) -> dict[str, Any]:
            return {**data, "prompt_id": prompt_id, "timestamp": int(time.time() * 1000)}

        messages: list[list[Any]] = []

        async def emit(kind: str, data: dict[str, Any], broadcast: bool = False) -> None:
            messages.append([kind, data])
            await self._send(kind, data, None if broadcast else sid)

        await emit("execution_start", stamp({}))
        await emit("execution_cached", stamp({"nodes": []}))
        results: dict[str, Any] = {}
        ui_outputs: dict[str, Any] = {}
        executed: list[str] = []
        status = "success"
        for node_id in execution_order(graph):
            node = graph[node_id]
            await self._send(
                "executing", {"node": node_id, "display_node": node_id, "prompt_id": prompt_id}, sid
            )

            async def report(value: int, total: int, node_id: str = node_id) -> None:
                await self._send(
                    "progress",
                    {"value": value, "max": total, "prompt_id": prompt_id, "node": node_id},
                    sid,
                )
                await self._send_preview(sid)
                if self._interrupted:
                    raise NodeFailure("InterruptProcessingException", "interrupted")

            values = {
                k: (results[v[0]] if isinstance(v, list) else v)
                for k, v in (node.get("inputs") or {}).items()
            }
            try:
                result, ui = await NODE_CLASSES[node["class_type"]].run(
                    self._context(report), **values
                )
            except NodeFailure as exc:
                status = "error"
                base = {"node_id": node_id, "node_type": node["class_type"], "executed": executed}
                if exc.exception_type == "InterruptProcessingException":
                    await emit("execution_interrupted", stamp(base), broadcast=True)
                    break
                await emit(
                    "execution_error",
                    stamp(
                        {
                            **base,
                            "exception_message": str(exc),
                            "exception_type": exc.exception_type,
                            "traceback": [],
                            "current_inputs": {},
                            "current_outputs": [],
                        }
                    ),
                )
                break
            results[node_id] = result
            executed.append(node_id)
            if ui is not None:
                ui_outputs[node_id] = ui
                await self._send(
                    "executed",
                    {
                        "node": node_id,
                        "display_node": node_id,
                        "output": ui,
                        "prompt_id": prompt_id,
                    },
                    sid,
                )
        if status == "success":
            await emit("execution_success", stamp({}))
        self.history[prompt_id] = {
            "prompt": [0, prompt_id, graph, {"client_id": sid}, []],
            "outputs": ui_outputs,
            "status": {
                "status_str": status,
                "completed": status == "success",
                "messages": messages,
            },
            "meta": {},
        }
        await self._send("executing", {"node": None, "prompt_id": prompt_id}, sid)

    async def _send_preview(self, sid: str | None) -> None:
        """A binary preview frame, as KSampler sends; clients must skip it."""
        ws = self._sockets.get(sid or "")
        if ws is not None and not ws.closed:
            await ws.send_bytes(b"\x00\x00\x00\x01\x00\x00\x00\x02" + b"\x89PNG fake preview")
