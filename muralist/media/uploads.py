"""Uploaded pictures: decoded safely, re-encoded, shrunk to the requested size."""

from __future__ import annotations

import io
import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING

from muralist.errors import BadRequest
from muralist.media.images import MediaError, open_image

if TYPE_CHECKING:
    from PIL.Image import Image

# Pillow warns above MAX_IMAGE_PIXELS and refuses at twice that; we refuse at the warning.
MAX_PIXELS = 50_000_000
_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    ext: str
    width: int
    height: int


def _open(data: bytes) -> Image:
    try:
        image = open_image(data, MAX_PIXELS)
        image.load()
    except MediaError as exc:
        raise BadRequest(f"file: {exc}") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise BadRequest("file: not a readable image") from exc
    return image


def _on_white(image: Image) -> Image:
    from PIL import Image as PILImage

    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = PILImage.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _shrink_to_jpeg(image: Image, limit: int) -> bytes:
    """JPEG at falling quality, then at falling size, until it fits in `limit` bytes."""
    rgb = _on_white(image)
    data = b""
    for quality in (90, 80, 70, 60, 50):
        data = _encode(rgb, "JPEG", quality=quality, optimize=True)
        if len(data) <= limit:
            return data
    while len(data) > limit and min(rgb.size) > 64:
        rgb = rgb.resize((max(1, rgb.width * 3 // 4), max(1, rgb.height * 3 // 4)))
        data = _encode(rgb, "JPEG", quality=70, optimize=True)
    return data


def process_upload(data: bytes, filename: str | None, max_bytes: int) -> EncodedImage:
    """Decode an upload and re-encode it: its own format when small enough, else JPEG."""
    image = _open(data)
    if len(data) > max_bytes:
        encoded = _shrink_to_jpeg(image, max_bytes)
        width, height = open_image(encoded).size
        return EncodedImage(encoded, "jpg", width, height)
    mime, _ = mimetypes.guess_type(filename or "")
    ext = (mime or "").removeprefix("image/").replace("jpeg", "jpg")
    if ext not in _FORMATS:
        ext = "jpg"
    source = _on_white(image) if ext == "jpg" else _writable(image, _FORMATS[ext])
    return EncodedImage(_encode(source, _FORMATS[ext]), ext, image.width, image.height)


# The modes each encoder writes (or converts by itself, as GIF does from RGB to a palette);
# a picture in any other mode (CMYK, LAB, YCbCr, 32-bit "I" for PNG...) is converted first.
_WRITABLE = {
    "PNG": {"1", "L", "LA", "P", "RGB", "RGBA", "I;16"},
    "GIF": {"1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16", "F"},
    "WEBP": {"RGB", "RGBA"},
}
_HIGH_DEPTH_GREY = {"I", "F", "I;16B", "I;16L", "I;16N"}


def _writable(image: Image, fmt: str) -> Image:
    """`image` in a mode `fmt` can hold, keeping transparency and 16-bit grey where it can."""
    if image.mode in _WRITABLE[fmt]:
        return image
    if fmt == "PNG" and image.mode in _HIGH_DEPTH_GREY:
        # PNG holds at most 16 bits of grey; values outside 0-65535 are clipped.
        return image.convert("I;16")
    has_alpha = image.mode.endswith(("A", "a")) or "transparency" in image.info
    return image.convert("RGBA" if has_alpha else "RGB")
