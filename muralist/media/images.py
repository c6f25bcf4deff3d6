"""Pillow pipeline for generated pictures (PNG with metadata) and size probing of videos."""

from __future__ import annotations

import io
import json
import logging
import struct
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

# Pillow is imported where a picture is decoded, not here: its import (about 50 ms) would
# otherwise sit on the server's start-up path through the tool registry.

logger = logging.getLogger(__name__)

# Generated pictures are at most a few megapixels; anything far larger is a decompression
# bomb or a broken answer, and decoding it would take the server's memory.
MAX_PIXELS = 64_000_000


class MediaError(ValueError):
    """Bytes that are not a usable picture or video."""


@dataclass(frozen=True)
class EncodedImage:
    """A picture re-encoded as PNG, with its pixel size and the format it arrived in."""

    data: bytes
    width: int
    height: int
    original_format: str


def open_image(data: bytes, max_pixels: int | None = None) -> Image:
    """Open a picture lazily (header only), refusing decompression bombs and empty images.

    `max_pixels` defaults to MAX_PIXELS, the limit for generated pictures.
    """
    limit = MAX_PIXELS if max_pixels is None else max_pixels
    from PIL import Image as PILImage
    from PIL import UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            image = PILImage.open(io.BytesIO(data))
    except (PILImage.DecompressionBombWarning, PILImage.DecompressionBombError) as exc:
        raise MediaError(f"image is larger than {limit} pixels") from exc
    except (UnidentifiedImageError, OSError) as exc:
        raise MediaError("not a readable image") from exc
    width, height = image.size
    if width <= 0 or height <= 0 or width * height > limit:
        raise MediaError(f"image of {width}x{height} pixels is outside the accepted size")
    return image


def image_size(data: bytes) -> tuple[int, int]:
    """Pixel size of an encoded picture, reading only its header."""
    return open_image(data).size


def metadata_text(value: object) -> str:
    """A metadata value as PNG text: strings as-is, everything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def to_png(data: bytes, metadata: Mapping[str, object] | None = None) -> EncodedImage:
    """Decode any Pillow-readable picture and re-encode it as PNG with text chunks.

    `metadata` (prompt, model, provider, ...) becomes iTXt chunks, plus `original_format`.
    """
    from PIL import PngImagePlugin

    image = open_image(data)
    original_format = (image.format or "unknown").lower()
    try:
        image.load()
    except (OSError, ValueError) as exc:
        raise MediaError(f"the image data is truncated or broken: {exc}") from exc
    if image.mode not in ("RGB", "RGBA", "L", "LA", "I", "I;16"):
        image = image.convert(
            "RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB"
        )

    info = PngImagePlugin.PngInfo()
    info.add_itxt("original_format", original_format)
    for key, value in (metadata or {}).items():
        if value is not None:
            info.add_itxt(key, metadata_text(value))
    out = io.BytesIO()
    image.save(out, format="PNG", pnginfo=info)
    return EncodedImage(out.getvalue(), image.width, image.height, original_format)


def png_text(data: bytes) -> dict[str, str]:
    """The text chunks of a PNG (what `to_png` wrote)."""
    image = open_image(data)
    return {str(k): str(v) for k, v in getattr(image, "text", {}).items()}


# --- video ---------------------------------------------------------------------------------

_CONTAINERS = {b"moov", b"trak", b"mdia", b"minf", b"stbl", b"edts", b"udta"}


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """(type, payload start, payload end) of each ISO-BMFF box in data[start:end]."""
    pos = start
    while pos + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, pos)
        header = 8
        if size == 1:
            if pos + 16 > end:
                return
            size = struct.unpack_from(">Q", data, pos + 8)[0]
            header = 16
        elif size == 0:
            size = end - pos
        if size < header or pos + size > end:
            return
        yield kind, pos + header, pos + size
        pos += size


def _track_sizes(data: bytes, start: int, end: int) -> Iterator[tuple[int, int]]:
    for kind, body, stop in _boxes(data, start, end):
        if kind == b"tkhd":
            version = data[body] if body < stop else 0
            # version/flags, times, track id, reserved, duration, reserved, layer, group,
            # volume, reserved, 3x3 matrix; then width and height as 16.16 fixed point.
            offset = body + 4 + (32 if version == 1 else 20) + 8 + 8 + 36
            if offset + 8 <= stop:
                width, height = struct.unpack_from(">II", data, offset)
                yield width >> 16, height >> 16
        elif kind in _CONTAINERS:
            yield from _track_sizes(data, body, stop)


def video_size(data: bytes) -> tuple[int, int] | None:
    """Width and height of the first visual track of an MP4/MOV file, or None."""
    if len(data) < 12 or data[4:8] != b"ftyp":
        return None
    for width, height in _track_sizes(data, 0, len(data)):
        if width > 0 and height > 0:
            return width, height
    return None


def video_mime(data: bytes, declared: str = "") -> str:
    """The video's MIME type from its magic bytes, else the declared one, else MP4."""
    if data[4:8] == b"ftyp":
        return "video/quicktime" if data[8:10] == b"qt" else "video/mp4"
    if data[:4] == b"\x1a\x45\xdf\xa3":
        return "video/webm"
    if declared.startswith("video/"):
        return declared
    return "video/mp4"


VIDEO_EXTENSIONS = {"video/mp4": "mp4", "video/quicktime": "mov", "video/webm": "webm"}
