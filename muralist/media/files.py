"""The file store: every uploaded or generated image and video, in one flat folder."""

import os
import re
import tempfile
from pathlib import Path

from muralist.errors import BadRequest, NotFound
from muralist.ids import new_name

# Names are what we generate (letters, digits, `_`, `-`, one extension), so anything
# else, including separators and dot-dot, is refused before touching the disk.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.[A-Za-z0-9]{1,8}$")


def valid_name(name: str) -> bool:
    return bool(_NAME.fullmatch(name))


class FileStore:
    """Files addressed by validated names inside one directory."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)

    def path(self, name: str, *, must_exist: bool = True) -> Path:
        """The path of a stored file; 400 for a malformed name, 404 when it is not there."""
        if not valid_name(name):
            raise BadRequest(f"file_id: {name[:80]!r} is not a valid file name")
        path = self.dir / name
        if must_exist and not path.is_file():
            raise NotFound(f"file_id: file {name!r} not found")
        return path

    def exists(self, name: str) -> bool:
        return valid_name(name) and (self.dir / name).is_file()

    def new_name(self, ext: str, prefix: str = "", size: int = 10) -> str:
        """A fresh, unused name such as `im_Ab3dE5fG.png` (prefix `im_`, size 8)."""
        ext = ext.lstrip(".").lower()
        while True:
            name = f"{prefix}{new_name(size)}.{ext}"
            if not (self.dir / name).exists():
                return name

    def write(self, name: str, data: bytes) -> Path:
        """Store bytes under `name` atomically: a crash never leaves half a file."""
        path = self.path(name, must_exist=False)
        fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @staticmethod
    def url(name: str) -> str:
        """The relative URL the UI loads a stored file from."""
        return f"/api/file/{name}"
