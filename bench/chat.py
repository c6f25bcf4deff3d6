"""Benchmark of chat turns against a zero-delay fake language model.

Runs three processes on this machine: the fake OpenAI-compatible chat server
(`python -m tests.fakes.openai_chat`, scripted by `#fake` directives in the user's message),
Muralist (`python -m muralist serve`, SQLite) and this client (httpx + one Socket.IO connection
joined to every session's room). Prints:

- p50 / p99 from POST /api/chat to the turn's `done`, for a 200-character answer streamed
  in 25 chunks (target: p50 under 15 ms; the upstream server took 70.6 ms);
- deltas delivered per second to one socket client for a 20,000-chunk answer (POST to
  `done`; target over 5,000/s). Chunks that pile up in the turn's outbox while the server is
  still emitting earlier ones leave merged in one `delta` event (with a zero-delay fake, most
  of the answer arrives as one burst), so the figure counts the model's chunks delivered; the
  number of `delta` events and their rate are printed beside it;
- with 50 sessions streaming at once (each a 25-chunk answer, all POSTed together): p50 / p99
  delta latency, from the moment the fake sent a chunk (its stamp) to the moment the client
  received it (target p99 under 50 ms), and the p99 gap between consecutive deltas of a
  session. With zero delay every answer is one burst, so the latency also holds the time the
  server needs to work through all bursts; `--chunks 200` shows that drain time.

Run: `.venv/bin/python bench/chat.py [--turns 200] [--sessions 50]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parent.parent
PROVIDER, MODEL = "benchllm", "bench-model"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_fake(port: int) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "tests.fakes.openai_chat", "--port", str(port)]
    return subprocess.Popen(command, cwd=ROOT)


def start_server(data_dir: Path, fake_url: str, port: int) -> subprocess.Popen[bytes]:
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "config.toml").write_text(
        f'[{PROVIDER}]\nurl = "{fake_url}"\napi_key = "bench-key"\n'
        f'[{PROVIDER}.models."{MODEL}"]\ntype = "text"\n',
        encoding="utf-8",
    )
    profile = os.environ.get("BENCH_PROFILE")  # a file name: profile the server with cProfile
    command = [sys.executable, *(["-m", "cProfile", "-o", profile] if profile else [])]
    command += ["-m", "muralist", "serve", "--port", str(port)]
    command += ["--data-dir", str(data_dir), "--log-level", "WARNING"]
    return subprocess.Popen(command, cwd=ROOT, env={**os.environ})


async def wait_until_up(client: httpx.AsyncClient, url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if (await client.get(url)).status_code < 500:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within 30 s")


@dataclass
class Session:
    """What the socket heard of one session."""

    done: asyncio.Future[float]
    deltas: int = 0
    chars: int = 0
    arrivals: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    stamped: bool = False


class Listener:
    """One Socket.IO connection joined to every session's room.

    It speaks Engine.IO 4 / Socket.IO 5 over a plain WebSocket (`websockets`, deflate on, as
    browsers do) and parses each frame with one json.loads: the python-socketio client spends
    about 100 us per message, which at 10,000 messages would measure the client, not the server.
    """

    def __init__(self, url: str) -> None:
        self.url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
        self.sessions: dict[str, Session] = {}
        self._acks: dict[int, asyncio.Future[Any]] = {}
        self._next_ack = 0
        self._reader: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Listener:
        self.ws = await websockets.connect(self.url, max_size=None, ping_interval=None)
        opened = await self.ws.recv()
        assert str(opened).startswith("0"), opened
        await self.ws.send("40")
        while not str(await self.ws.recv()).startswith("40"):  # `connected` may come first
            pass
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._reader is not None
        self._reader.cancel()
        await self.ws.close()

    async def watch(self, session_id: str, stamped: bool = False) -> Session:
        session = Session(asyncio.get_running_loop().create_future(), stamped=stamped)
        self.sessions[session_id] = session
        self._next_ack += 1
        ack = self._acks[self._next_ack] = asyncio.get_running_loop().create_future()
        await self.ws.send(f"42{self._next_ack}" + json.dumps(["join", {"session_id": session_id}]))
        answer = await asyncio.wait_for(ack, 10)
        assert answer[0]["ok"], answer
        return session

    async def _read(self) -> None:
        async for frame in self.ws:
            text = str(frame)
            if text == "2":  # Engine.IO ping
                await self.ws.send("3")
            elif text.startswith("43"):  # an acknowledgement: 43<id>[...]
                head = text.index("[")
                future = self._acks.pop(int(text[2:head]), None)
                if future is not None:
                    future.set_result(json.loads(text[head:]))
            elif text.startswith("42["):
                name, data = json.loads(text[2:])
                if name == "message":
                    self._on_message(data)

    def _on_message(self, data: dict[str, Any]) -> None:
        session = self.sessions.get(data.get("session_id", ""))
        if session is None:
            return
        kind = data.get("type")
        if kind == "delta":
            now = time.time()
            session.deltas += 1
            session.chars += len(data["text"])
            if session.stamped:
                session.arrivals.append(now)
                for stamp in data["text"].split():
                    session.latencies.append((now - float(stamp)) * 1000)
        elif kind == "error":
            print("error:", data.get("error"), file=sys.stderr)
        elif kind == "done" and not session.done.done():
            session.done.set_result(time.perf_counter())


def body(session_id: str, text: str) -> dict[str, Any]:
    return {
        "messages": [{"role": "user", "content": [{"type": "text", "text": text}]}],
        "session_id": session_id,
        "canvas_id": "",
        "text_model": {"provider": PROVIDER, "model": MODEL, "url": ""},
        "tool_list": [],
        "system_prompt": None,
    }


async def one_turn(client: httpx.AsyncClient, listener: Listener, sid: str, text: str) -> float:
    session = await listener.watch(sid)
    start = time.perf_counter()
    response = await client.post("/api/chat", json=body(sid, text))
    response.raise_for_status()
    finished = await asyncio.wait_for(session.done, 120)
    return (finished - start) * 1000


async def short_turns(client: httpx.AsyncClient, listener: Listener, turns: int) -> list[float]:
    for warm in range(10):
        await one_turn(client, listener, f"warm{warm}", "#fake chunks=25 size=8")
    return [
        await one_turn(client, listener, f"short{n}", "#fake chunks=25 size=8")
        for n in range(turns)
    ]


async def long_turn(client: httpx.AsyncClient, listener: Listener) -> tuple[float, int, int]:
    elapsed = await one_turn(client, listener, "long", "#fake chunks=20000 size=1")
    session = listener.sessions["long"]
    return elapsed, session.chars, session.deltas


async def paced_turn(
    client: httpx.AsyncClient, listener: Listener, pace: int
) -> tuple[float, int, int]:
    """10,000 chunks sent `pace` per second, evenly spaced: do they leave as separate events?"""
    session = await listener.watch("paced", stamped=True)
    start = time.perf_counter()
    text = f"#fake chunks={2 * pace} stamp pace={pace}"
    response = await client.post("/api/chat", json=body("paced", text))
    response.raise_for_status()
    finished = await asyncio.wait_for(session.done, 120)
    return (finished - start) * 1000, len(session.latencies), session.deltas


async def concurrent(
    client: httpx.AsyncClient, listener: Listener, count: int, chunks: int
) -> tuple[list[float], list[float]]:
    sessions = [await listener.watch(f"many{n}", stamped=True) for n in range(count)]
    await asyncio.gather(
        *(
            client.post("/api/chat", json=body(f"many{n}", f"#fake chunks={chunks} stamp"))
            for n in range(count)
        )
    )
    await asyncio.wait_for(asyncio.gather(*(s.done for s in sessions)), 120)
    latencies = [lat for s in sessions for lat in s.latencies]
    gaps = [
        (later - earlier) * 1000
        for s in sessions
        for earlier, later in zip(s.arrivals, s.arrivals[1:], strict=False)
    ]
    return latencies, gaps


def pct(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    return statistics.quantiles(values, n=100)[q - 1] if len(values) > 1 else values[0]


async def main() -> bool:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200)
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--chunks", type=int, default=25, help="chunks per concurrent answer")
    parser.add_argument("--pace", type=int, default=5000, help="chunks/s of the paced answer")
    args = parser.parse_args()

    fake_port, port = free_port(), free_port()
    fake = start_fake(fake_port)
    with tempfile.TemporaryDirectory() as tmp:
        server = start_server(Path(tmp) / "data", f"http://127.0.0.1:{fake_port}/v1/", port)
        url = f"http://127.0.0.1:{port}"
        try:
            async with httpx.AsyncClient(base_url=url, timeout=60) as client:
                await wait_until_up(client, f"http://127.0.0.1:{fake_port}/")
                await wait_until_up(client, f"{url}/api/list_tools")
                async with Listener(url) as listener:
                    timings = await short_turns(client, listener, args.turns)
                    p50, p99 = statistics.median(timings), pct(timings, 99)
                    print(
                        f"POST -> done, 200-character answer: p50 {p50:.1f} ms, p99 {p99:.1f} ms "
                        f"({args.turns} turns; target p50 < 15 ms)"
                    )
                    elapsed, chunks, events = await long_turn(client, listener)
                    print(
                        f"20,000-chunk answer: {chunks:,} chunks delivered in "
                        f"{elapsed / 1000:.2f} s = {chunks / elapsed * 1000:,.0f} chunks/s to one "
                        f"socket (target > 5,000/s), in {events} delta events "
                        f"({events / elapsed * 1000:,.0f} events/s; chunks merged in the outbox)"
                    )
                    elapsed, chunks_paced, events_paced = await paced_turn(
                        client, listener, args.pace
                    )
                    print(
                        f"{args.pace:,} chunks/s paced for 2 s: {events_paced:,} delta events "
                        f"for {chunks_paced:,} chunks in {elapsed / 1000:.2f} s = "
                        f"{events_paced / elapsed * 1000:,.0f} separate events/s to one socket"
                    )
                    latencies, gaps = await concurrent(client, listener, args.sessions, args.chunks)
                    print(
                        f"{args.sessions} sessions at once, {len(latencies)} deltas: latency p50 "
                        f"{statistics.median(latencies):.1f} ms, p99 {pct(latencies, 99):.1f} ms "
                        f"(target p99 < 50 ms); gap between deltas p99 {pct(gaps, 99):.1f} ms"
                    )
                    return p50 < 15 and chunks / elapsed * 1000 > 5000 and pct(latencies, 99) < 50
        finally:
            server.send_signal(2)  # SIGINT: a clean stop, so a profile gets written
            server.wait(30)
            fake.terminate()
            fake.wait(30)


if __name__ == "__main__":
    # The exit status is 0 only when every target is met.
    sys.exit(0 if asyncio.run(main()) else 1)
