"""Input pictures of a tool call: file ids checked against the file store, never guessed."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from muralist.errors import MuralistError
from muralist.media.files import FileStore
from muralist.media.images import MediaError, image_size
from muralist.tools.base import ToolError
from muralist.tools.providers.common import InputImage

_MIME = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}


def file_id_of(reference: str) -> str:
    """The file id in a reference: `im_x.jpg`, `/api/file/im_x.jpg` or a full file URL."""
    return reference.strip().split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def check_input_images(
    files: FileStore, references: Sequence[str], field: str = "input_images"
) -> list[str]:
    """The file ids of `references`; ToolError naming the first one that is not stored."""
    names = []
    for index, reference in enumerate(references):
        name = file_id_of(reference)
        try:
            files.path(name)
        except MuralistError as exc:
            raise ToolError(f"{field}[{index}]: {exc.message}") from exc
        names.append(name)
    return names


def _read(files: FileStore, name: str, where: str) -> InputImage:
    data = files.path(name).read_bytes()
    try:
        image_size(data)
    except MediaError as exc:
        raise ToolError(f"{where}: file {name!r} is not a picture ({exc})") from exc
    extension = name.rsplit(".", 1)[-1].lower()
    mime = _MIME.get("jpeg" if extension == "jpg" else extension, "image/png")
    return InputImage(name, data, mime)


async def load_input_images(
    files: FileStore, references: Sequence[str] | None, field: str = "input_images"
) -> list[InputImage]:
    """Read every referenced picture; a missing or unreadable one is a ToolError."""
    names = check_input_images(files, references or [], field)
    loaded = []
    for index, name in enumerate(names):
        loaded.append(await asyncio.to_thread(_read, files, name, f"{field}[{index}]"))
    return loaded
