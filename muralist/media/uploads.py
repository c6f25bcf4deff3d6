"""Uploaded pictures: decoded safely, re-encoded, shrunk to the requested size."""

import io
import mimetypes
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from muralist.errors import BadRequest

# Pillow warns above MAX_IMAGE_PIXELS and refuses at twice that; we refuse at the warning.
MAX_PIXELS = 50_000_000
_FORMATS = {"jpg": "JPEG", "png": "PNG", "webp": "WEBP", "gif": "GIF"}


@dataclass(frozen=True)
class EncodedImage:
    data: bytes
    ext: str
    width: int
    height: int


def _open(data: bytes) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > MAX_PIXELS:
                raise BadRequest(f"file: image is larger than {MAX_PIXELS} pixels")
            image.load()
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise BadRequest("file: not a readable image") from exc
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise BadRequest(f"file: image is larger than {MAX_PIXELS} pixels") from exc
    return image


def _on_white(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "P"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


def _encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _shrink_to_jpeg(image: Image.Image, limit: int) -> bytes:
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
        final = Image.open(io.BytesIO(encoded))
        return EncodedImage(encoded, "jpg", final.width, final.height)
    mime, _ = mimetypes.guess_type(filename or "")
    ext = (mime or "").removeprefix("image/").replace("jpeg", "jpg")
    if ext not in _FORMATS:
        ext = "jpg"
    source = _on_white(image) if ext == "jpg" else image
    if ext == "png" and source.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I", "I;16"):
        source = source.convert("RGBA")
    return EncodedImage(_encode(source, _FORMATS[ext]), ext, image.width, image.height)
