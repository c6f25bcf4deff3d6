"""The material browser: listing and serving media from the allowed folders only."""

import asyncio
import logging
import shutil
import sys
from pathlib import Path
from typing import Any

from fastapi import APIRouter
from fastapi.responses import FileResponse
from pydantic import BaseModel

from muralist.api.deps import ServicesDep
from muralist.errors import BadRequest, MuralistError
from muralist.media.browse import MaterialRoots, file_info, kind_of, list_folder
from muralist.services import Services

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["materials"])


class BrowseItem(BaseModel):
    name: str
    path: str
    type: str
    size: int | None
    mtime: float
    is_directory: bool
    is_media: bool
    has_thumbnail: bool


class Browse(BaseModel):
    current_path: str
    parent_path: str | None
    items: list[BrowseItem]


class MediaFile(BaseModel):
    name: str
    path: str
    type: str
    size: int | None
    mtime: float


class FileInfo(BaseModel):
    name: str
    path: str
    type: str
    size: int | None
    mtime: float
    ctime: float
    is_directory: bool
    is_media: bool
    mime_type: str


class Thumbnail(BaseModel):
    path: str
    type: str
    exists: bool
    can_preview: bool


class FolderBody(BaseModel):
    path: str


class Opened(BaseModel):
    success: bool
    message: str


def _roots(services: Services) -> MaterialRoots:
    extra = [Path(folder) for folder in services.user_settings.get("material_dirs")]
    return MaterialRoots([services.files.dir, *extra])


@router.get("/browse_filesystem", response_model=Browse, operation_id="browse_filesystem")
async def browse_filesystem(services: ServicesDep, path: str = "") -> dict:
    """A folder's entries (empty path: the file store)."""
    roots = _roots(services)
    folder = roots.resolve(path, "path")
    if not folder.is_dir():
        raise BadRequest("path: not a folder")
    items = await asyncio.to_thread(list_folder, folder)
    return {"current_path": str(folder), "parent_path": roots.parent_of(folder), "items": items}


@router.get("/get_media_files", response_model=list[MediaFile], operation_id="get_media_files")
async def get_media_files(services: ServicesDep, path: str = "") -> list[dict[str, Any]]:
    """Images and videos directly inside a folder, newest first."""
    folder = _roots(services).resolve(path, "path")
    if not folder.is_dir():
        raise BadRequest("path: not a folder")
    items = await asyncio.to_thread(list_folder, folder)
    media = [
        {key: item[key] for key in ("name", "path", "type", "size", "mtime")}
        for item in items
        if item["is_media"]
    ]
    return sorted(media, key=lambda item: item["mtime"], reverse=True)


@router.get(
    "/serve_file",
    response_class=FileResponse,
    responses={200: {"content": {"image/*": {}, "video/*": {}}}},
    operation_id="serve_file",
)
async def serve_file(services: ServicesDep, file_path: str = "") -> FileResponse:
    """An image or video from an allowed folder (Range requests supported)."""
    if not file_path:
        raise BadRequest("file_path: required")
    path = _roots(services).resolve(file_path, "file_path")
    if kind_of(path) not in ("image", "video"):
        raise BadRequest("file_path: File type not supported for preview")
    return FileResponse(path, filename=path.name)


@router.get("/get_file_info", response_model=FileInfo, operation_id="get_file_info")
async def get_file_info(services: ServicesDep, file_path: str = "") -> dict:
    """Metadata of a file in an allowed folder."""
    if not file_path:
        raise BadRequest("file_path: required")
    return file_info(_roots(services).resolve(file_path, "file_path"))


@router.get("/get_file_thumbnail", response_model=Thumbnail, operation_id="get_file_thumbnail")
async def get_file_thumbnail(services: ServicesDep, file_path: str = "") -> Thumbnail:
    """Whether a file in an allowed folder can be previewed."""
    if not file_path:
        raise BadRequest("file_path: required")
    path = _roots(services).resolve(file_path, "file_path")
    kind = kind_of(path)
    return Thumbnail(path=str(path), type=kind, exists=True, can_preview=kind in ("image", "video"))


@router.post("/open_folder_in_explorer", response_model=Opened, operation_id="open_folder")
async def open_folder_in_explorer(body: FolderBody, services: ServicesDep) -> Opened:
    """Open an allowed folder in the desktop's file manager."""
    folder = _roots(services).resolve(body.path, "path")
    if not folder.is_dir():
        raise BadRequest("path: not a folder")
    opener = {"darwin": "open", "win32": "explorer"}.get(sys.platform, "xdg-open")
    if shutil.which(opener) is None:
        raise _NoFileManager(f"no file manager on this machine ({opener} not found)")
    await asyncio.create_subprocess_exec(opener, str(folder))
    return Opened(success=True, message="Folder opened in system explorer")


class _NoFileManager(MuralistError):
    status = 501
