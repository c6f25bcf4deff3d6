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


def _parse_url(value: str, field: str, schemes: tuple[str, ...]) -> httpx.URL:
    try:
        url = httpx.URL(value)
    except httpx.InvalidURL as exc:
        raise BadRequest(f"{field}: {value!r} is not a valid URL ({exc})") from exc
    if url.scheme not in schemes:
        allowed = ", ".join(f"{scheme}://" for scheme in schemes)
        raise BadRequest(f"{field}: {value!r} must start with {allowed}")
    if not url.host:
        raise BadRequest(f"{field}: {value!r} has no host name")
    return url


def check_service_url(value: str, field: str) -> str:
    """A provider's base URL: empty (not configured) or http(s) with a host."""
    if value.strip():
        _parse_url(value.strip(), field, ("http", "https"))
    return value


# httpx speaks socks5 through the socksio package, and no socks4 at all.
PROXY_URL_SCHEMES = ("http", "https", "socks5")


def check_proxy_url(value: str, field: str = "proxy") -> str:
    """A proxy URL httpx can use: http, https or socks5 with a host."""
    if value.startswith("socks4://"):
        raise BadRequest(f"{field}: socks4 proxies are not supported, use socks5:// instead")
    _parse_url(value, field, PROXY_URL_SCHEMES)
    return value


def proxy_options(proxy: str) -> dict[str, Any]:
    """httpx client options for a proxy setting: `no_proxy`/"", `system`, or a URL."""
    if proxy in ("", "no_proxy"):
        return {"trust_env": False}
    if proxy == "system":
        return {"trust_env": True, "mounts": dict(_DIRECT)}
    # Settings are checked when saved; this guards a settings.json edited by hand.
    check_proxy_url(proxy)
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
