"""Uploads and the file store over HTTP."""

import asyncio
import logging

from fastapi import APIRouter, Query, Request, UploadFile
from fastapi.responses import FileResponse
from pydantic import BaseModel

from muralist.api.deps import ServicesDep
from muralist.errors import PayloadTooLarge
from muralist.media.uploads import process_upload

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["files"])

_CHUNK = 1 << 20


class Uploaded(BaseModel):
    file_id: str
    url: str
    width: int
    height: int


async def _read_capped(upload: UploadFile, cap: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await upload.read(_CHUNK):
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(f"file: larger than the {cap // (1 << 20)} MB upload limit")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/upload_image", response_model=Uploaded, operation_id="upload_image")
async def upload_image(
    file: UploadFile,
    request: Request,
    services: ServicesDep,
    max_size_mb: float = Query(3.0, gt=0, le=1000),
) -> Uploaded:
    """Store an uploaded picture, re-encoded; larger than max_size_mb -> a smaller JPEG."""
    cap = int(services.settings.max_upload_mb * (1 << 20))
    data = await _read_capped(file, cap)
    limit = int(min(max_size_mb, services.settings.max_upload_mb) * (1 << 20))
    # Decoding and encoding are CPU work: keep them off the event loop.
    image = await asyncio.to_thread(process_upload, data, file.filename, limit)
    name = services.files.new_name(image.ext, prefix="im_", size=8)
    await asyncio.to_thread(services.files.write, name, image.data)
    log.info("stored upload %s (%dx%d)", name, image.width, image.height)
    return Uploaded(
        file_id=name,
        url=str(request.base_url).rstrip("/") + services.files.url(name),
        width=image.width,
        height=image.height,
    )


@router.get(
    "/file/{file_id}",
    response_class=FileResponse,
    responses={200: {"content": {"image/*": {}, "video/*": {}}}, 404: {}, 400: {}},
    operation_id="get_file",
)
async def get_file(file_id: str, services: ServicesDep) -> FileResponse:
    """A stored file by name (Range requests are answered for video seeking)."""
    path = services.files.path(file_id)
    return FileResponse(path, headers={"Cache-Control": "public, max-age=31536000, immutable"})
