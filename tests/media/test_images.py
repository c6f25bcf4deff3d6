"""The Pillow pipeline: PNG re-encoding with metadata, size guards, video probing."""

from __future__ import annotations

import io
import json

import pytest
from PIL import Image

from muralist.media import images
from muralist.media.images import MediaError, png_text, to_png, video_mime, video_size
from tests.fakes.provider_base import jpeg_bytes, mp4_bytes, png_bytes


def test_jpeg_becomes_png_with_metadata() -> None:
    encoded = to_png(
        jpeg_bytes(40, 30),
        {"prompt": "a fox", "model": "gpt-image-1", "input_images": ["a.png"], "skipped": None},
    )

    assert (encoded.width, encoded.height, encoded.original_format) == (40, 30, "jpeg")
    assert Image.open(io.BytesIO(encoded.data)).format == "PNG"
    text = png_text(encoded.data)
    assert text["prompt"] == "a fox"
    assert text["model"] == "gpt-image-1"
    assert json.loads(text["input_images"]) == ["a.png"]
    assert text["original_format"] == "jpeg"
    assert "skipped" not in text


def test_non_ascii_prompt_survives() -> None:
    encoded = to_png(png_bytes(), {"prompt": "一只狐狸 🦊"})
    assert png_text(encoded.data)["prompt"] == "一只狐狸 🦊"


def test_palette_and_cmyk_pictures_are_converted() -> None:
    for mode in ("P", "CMYK"):
        out = io.BytesIO()
        Image.new(mode, (5, 7)).save(out, format="TIFF" if mode == "CMYK" else "GIF")
        assert to_png(out.getvalue()).width == 5


def test_garbage_is_a_media_error() -> None:
    with pytest.raises(MediaError, match="not a readable image"):
        to_png(b"<html>error page</html>")


def test_truncated_picture_is_a_media_error() -> None:
    data = jpeg_bytes(200, 200)
    with pytest.raises(MediaError):
        to_png(data[: len(data) // 3])


def test_huge_picture_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(images, "MAX_PIXELS", 100)
    with pytest.raises(MediaError, match="64x48 pixels is outside the accepted size"):
        to_png(png_bytes(64, 48))


def test_mp4_size_skips_tracks_without_size() -> None:
    assert video_size(mp4_bytes(1280, 720)) == (1280, 720)


def test_non_mp4_has_no_size() -> None:
    assert video_size(b"\x1a\x45\xdf\xa3" + b"\x00" * 40) is None
    assert video_size(b"") is None


def test_broken_box_sizes_do_not_loop() -> None:
    data = mp4_bytes()[:40] + b"\xff\xff\xff\xffmoov"
    assert video_size(data) is None


def test_video_mime_from_magic_bytes() -> None:
    assert video_mime(mp4_bytes()) == "video/mp4"
    assert video_mime(b"\x1a\x45\xdf\xa3" + b"\x00" * 8) == "video/webm"
    assert video_mime(b"????????", "video/ogg") == "video/ogg"
    assert video_mime(b"????????", "application/octet-stream") == "video/mp4"
