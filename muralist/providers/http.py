"""The one place outgoing HTTP clients are made, so the proxy setting applies everywhere."""

import functools
import ssl
from collections.abc import Callable
from typing import Any

import certifi
import httpx

from muralist.errors import BadRequest

# Loopback targets (local ComfyUI, Ollama, test fakes) never go through a proxy.
_DIRECT = {"all://127.0.0.1": None, "all://localhost": None, "all://[::1]": None}

DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


@functools.cache
def tls_context() -> ssl.SSLContext:
    """One TLS context for every client: building one per client parses the CA bundle,
    about 25 ms of CPU, more than a whole call to a fast provider."""
    return ssl.create_default_context(cafile=certifi.where())


def proxy_options(proxy: str) -> dict[str, Any]:
    """httpx client options for a proxy setting: `no_proxy`/"", `system`, or a URL."""
    if proxy in ("", "no_proxy"):
        return {"trust_env": False}
    if proxy == "system":
        return {"trust_env": True, "mounts": dict(_DIRECT)}
    if proxy.startswith("socks4://"):
        raise BadRequest("proxy: socks4 proxies are not supported, use socks5://")
    return {"trust_env": False, "proxy": proxy, "mounts": dict(_DIRECT)}


class HttpClientFactory:
    """Builds httpx clients from the current proxy setting (read at each call: no restart)."""

    def __init__(self, proxy_setting: Callable[[], str]) -> None:
        self._proxy_setting = proxy_setting

    def client(
        self,
        *,
        timeout: float | httpx.Timeout | None = None,
        follow_redirects: bool = False,
        **options: Any,
    ) -> httpx.AsyncClient:
        """A new client; use it as `async with factory.client(...) as client:`."""
        options.setdefault("verify", tls_context())
        return httpx.AsyncClient(
            timeout=DEFAULT_TIMEOUT if timeout is None else timeout,
            follow_redirects=follow_redirects,
            **proxy_options(self._proxy_setting()),
            **options,
        )
