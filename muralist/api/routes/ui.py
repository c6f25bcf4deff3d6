"""The single-page UI: hashed bundles under /assets, index.html for every other page."""

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from muralist.errors import NotFound

NO_CACHE = {"Cache-Control": "no-cache, no-store, must-revalidate"}

_NO_UI_PAGE = """<!doctype html><html><head><title>Muralist</title></head>
<body><h1>Muralist is running</h1><p>No web UI is configured. Start the server with
<code>--ui-dir</code> pointing at a built Jaaz UI (its <code>dist</code> folder), or use the
API under <code>/api</code>; <a href="/docs">/docs</a> lists it.</p></body></html>"""


def mount_ui(app: FastAPI, ui_dir: Path | None) -> None:
    """Serve the built UI from `ui_dir`, or a short notice page when there is none."""
    router = APIRouter(include_in_schema=False)
    if ui_dir is None:

        @router.get("/")
        async def no_ui() -> HTMLResponse:
            return HTMLResponse(_NO_UI_PAGE)

        app.include_router(router)
        return

    root = ui_dir.resolve()
    index = root / "index.html"
    if (root / "assets").is_dir():
        app.mount("/assets", StaticFiles(directory=root / "assets"), name="assets")

    @router.get("/{path:path}")
    async def page(path: str) -> FileResponse:
        # Files at the top of the bundle (favicon, manifest) are served as they are;
        # any other path is a client-side route, so the SPA's index.html answers it.
        if path and not path.startswith(("api/", "socket.io/")):
            candidate = (root / path).resolve()
            if candidate.is_relative_to(root) and candidate.is_file():
                return FileResponse(candidate, headers=NO_CACHE)
        if path.startswith(("api/", "socket.io/")):
            raise NotFound(f"no such endpoint: /{path}")
        return FileResponse(index, headers=NO_CACHE)

    app.include_router(router)
