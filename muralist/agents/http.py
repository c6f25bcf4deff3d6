"""HTTP clients for language-model providers (httpx2, which the OpenAI and Anthropic SDKs use).

One client per (timeout, retries, proxy) keeps connections alive across turns. Failures to
connect are retried by the transport (0 s, 0.5 s, 1 s ... apart) before anything reaches the
provider, so a retry never repeats output; HTTP errors (401, 429, 500...) are not retried and end
the turn at once.
"""

from __future__ import annotations

import socket

import httpx2

_LOOPBACK = ("all://127.0.0.1", "all://localhost", "all://[::1]")


def _transport(retries: int, proxy: str | None) -> httpx2.AsyncHTTPTransport:
    # Nagle off: a request goes out in two writes and would otherwise wait for a delayed ACK.
    options = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
    limits = httpx2.Limits(max_connections=1000, max_keepalive_connections=100)
    return httpx2.AsyncHTTPTransport(
        proxy=proxy, socket_options=options, limits=limits, retries=retries, trust_env=False
    )


class LLMClients:
    """Keeps one httpx2 client per (timeout, retries, proxy) and closes them all at shutdown."""

    def __init__(self) -> None:
        self._clients: dict[tuple[float, int, str | None], httpx2.AsyncClient] = {}

    def get(self, timeout_s: float, retries: int, proxy: str | None) -> httpx2.AsyncClient:
        """A client whose read timeout is `timeout_s` and whose transport retries connecting."""
        key = (timeout_s, retries, proxy)
        client = self._clients.get(key)
        if client is None:
            timeout = httpx2.Timeout(timeout_s, connect=min(timeout_s, 10.0))
            mounts: dict[str, httpx2.AsyncBaseTransport | None] = {}
            if proxy:
                # Loopback (Ollama, LM Studio, test fakes) is never sent through a proxy.
                mounts = {pattern: _transport(retries, None) for pattern in _LOOPBACK}
            client = httpx2.AsyncClient(
                timeout=timeout,
                transport=_transport(retries, proxy),
                mounts=mounts,
                trust_env=False,
            )
            self._clients[key] = client
        return client

    async def aclose(self) -> None:
        """Close every client."""
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
