"""The material browser's view of the disk: only the file store and folders the user listed."""

import mimetypes
import os
from pathlib import Path
from typing import Any

from muralist.errors import BadRequest, Forbidden, NotFound

# The longest file or folder name Linux, macOS and Windows file systems accept, and the
# longest path Linux looks up; longer ones fail with ENAMETOOLONG instead of "not found".
MAX_NAME_BYTES = 255
MAX_PATH_BYTES = 4096


def fits_file_system(path: str) -> bool:
    """Whether the operating system can look `path` up: no name in it, nor the whole, too long."""

    def size(text: str) -> int:
        return len(text.encode("utf-8", "surrogatepass"))

    return size(path) <= MAX_PATH_BYTES and all(
        size(part) <= MAX_NAME_BYTES for part in Path(path).parts
    )


_KINDS = {
    "image": {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tiff", ".svg", ".ico"},
    "video": {".mp4", ".webm", ".mov", ".avi", ".mkv", ".m4v"},
    "audio": {".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aac"},
    "document": {".pdf", ".doc", ".docx", ".txt", ".md", ".rtf", ".odt", ".xls", ".xlsx"},
    "archive": {".zip", ".tar", ".gz", ".rar", ".7z", ".bz2", ".xz"},
    "code": {".py", ".js", ".ts", ".tsx", ".html", ".css", ".json", ".yaml", ".yml", ".toml"},
}


def kind_of(path: Path) -> str:
    """folder, image, video, audio, document, archive, code or file."""
    if path.is_dir():
        return "folder"
    suffix = path.suffix.lower()
    return next((kind for kind, exts in _KINDS.items() if suffix in exts), "file")


class MaterialRoots:
    """Resolves user-given paths and refuses any that leave the allowed roots."""

    def __init__(self, roots: list[Path]) -> None:
        self.roots = [root.resolve() for root in roots]

    @property
    def home(self) -> Path:
        return self.roots[0]

    def resolve(self, raw: str, field: str) -> Path:
        if "\x00" in raw:
            raise BadRequest(f"{field}: invalid path")
        if not raw:
            return self.home
        path = Path(raw)
        if not path.is_absolute():
            raise BadRequest(f"{field}: must be an absolute path")
        if not fits_file_system(raw):
            raise BadRequest(f"{field}: a name in the path is longer than the file system allows")
        resolved = path.resolve()
        if not any(resolved.is_relative_to(root) for root in self.roots):
            raise Forbidden(f"{field}: outside the folders the material browser may list")
        try:
            found = resolved.exists()
        except OSError as exc:
            # exists() only hides "no such file"; a path too long in total, or a loop of
            # links, raises instead, and that is the client's path, not a server fault.
            raise BadRequest(f"{field}: cannot be looked up ({exc.strerror})") from exc
        if not found:
            raise NotFound(f"{field}: {raw} not found")
        return resolved

    def parent_of(self, path: Path) -> str | None:
        if path in self.roots:
            return None
        return str(path.parent)


def describe(path: Path, stat: os.stat_result | None = None) -> dict[str, Any]:
    stat = stat or path.stat()
    kind = kind_of(path)
    return {
        "name": path.name,
        "path": str(path),
        "type": kind,
        "size": None if kind == "folder" else stat.st_size,
        "mtime": stat.st_mtime,
        "is_directory": kind == "folder",
        "is_media": kind in ("image", "video"),
        "has_thumbnail": kind in ("image", "video"),
    }


def _utf8(name: str) -> bool:
    # A name that is not UTF-8 on disk cannot be sent as JSON text or asked for again.
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def list_folder(folder: Path) -> list[dict[str, Any]]:
    """Visible, readable entries: folders first, then by name without case."""
    items = []
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.name.startswith(".") or not _utf8(entry.name):
                continue
            try:
                items.append(describe(Path(entry.path)))
            except OSError:
                continue
    items.sort(key=lambda item: (not item["is_directory"], item["name"].lower()))
    return items


def file_info(path: Path) -> dict[str, Any]:
    stat = path.stat()
    info = describe(path, stat)
    info.pop("has_thumbnail")
    info["ctime"] = stat.st_ctime
    info["mime_type"] = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return info
