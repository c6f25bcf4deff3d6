"""A real headless Chromium loads a built single-page UI from the server (`--ui-dir`).

The fixture is a tiny build as Vite makes one: index.html and a hashed module bundle under
assets/ whose script writes the page's path into the DOM. A deep link must give the SPA its
index.html, the bundle must load from /assets/ (a module script, so the browser sends an
Origin header the security guard must accept), and /api/ paths must never fall back to it.
"""

import asyncio
import os
import shutil
from pathlib import Path

import pytest

from tests.support import RunningServer, make_settings, running_server

pytestmark = pytest.mark.slow

BUNDLE = "app-3f9a1c7e.js"
MARKER = "muralist-spa-ran"
SCRIPT = f"""const out = document.getElementById("path");
out.textContent = location.pathname;
out.dataset.state = "{MARKER}";
"""
INDEX = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>SPA fixture</title>
<script type="module" crossorigin src="/assets/{BUNDLE}"></script></head>
<body><p id="path" data-state="waiting">script did not run</p></body></html>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    reason = "chromium is not installed (scripts/ci-system-deps installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason}, and CI must run this test")
    print(f"skipping the browser test: {reason}")
    pytest.skip(reason)


@pytest.fixture
def ui_dir(tmp_path: Path) -> Path:
    built = tmp_path / "dist"
    (built / "assets").mkdir(parents=True)
    (built / "index.html").write_text(INDEX, encoding="utf-8")
    (built / "assets" / BUNDLE).write_text(SCRIPT, encoding="utf-8")
    return built


async def _dump_dom(browser: str, url: str, profile: Path) -> str:
    """The DOM after the page loaded and its scripts ran, as Chromium serialises it."""
    process = await asyncio.create_subprocess_exec(
        browser,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--dump-dom",
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=90)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode == 0, err.decode(errors="replace")[-2000:]
    return out.decode()


async def test_a_deep_link_runs_the_spa_with_its_path(ui_dir: Path, tmp_path: Path) -> None:
    browser = _chromium()
    async with running_server(make_settings(tmp_path / "data", ui_dir=ui_dir)) as server:
        dom = await _dump_dom(browser, f"{server.url}/canvas/abc", tmp_path / "profile")
    assert f'data-state="{MARKER}"' in dom, dom
    assert ">/canvas/abc</p>" in dom, dom


async def test_api_paths_are_not_answered_by_the_spa(ui_dir: Path, tmp_path: Path) -> None:
    browser = _chromium()
    async with running_server(make_settings(tmp_path / "data", ui_dir=ui_dir)) as server:
        dom = await _dump_dom(browser, f"{server.url}/api/no_such_route", tmp_path / "profile")
        await _check_routes_over_http(server)
    assert "no such endpoint" in dom, dom
    assert MARKER not in dom and "SPA fixture" not in dom, dom


async def _check_routes_over_http(server: RunningServer) -> None:
    bundle = await server.client.get(f"/assets/{BUNDLE}")
    assert bundle.status_code == 200
    assert "javascript" in bundle.headers["content-type"]
    assert bundle.text == SCRIPT

    missing_asset = await server.client.get("/assets/app-00000000.js")
    assert missing_asset.status_code == 404

    tools = await server.client.get("/api/list_tools")
    assert tools.status_code == 200
    assert tools.headers["content-type"].startswith("application/json")

    unknown = await server.client.get("/api/no_such_route")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/json")

    deep = await server.client.get("/canvas/abc/deeper")
    assert deep.status_code == 200
    assert "SPA fixture" in deep.text
