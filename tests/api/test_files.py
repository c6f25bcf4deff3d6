"""Uploads and file serving: re-encoding, size caps, bombs, names, Range requests."""

import io
from pathlib import Path

from PIL import Image

from tests.support import RunningServer, make_settings, running_server


def _png(width: int = 40, height: int = 30, mode: str = "RGBA") -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (width, height), (10, 200, 30, 128)[: len(mode)]).save(buffer, "PNG")
    return buffer.getvalue()


def _noise_png(size: int) -> bytes:
    buffer = io.BytesIO()
    Image.frombytes("RGB", (size, size), __import__("os").urandom(size * size * 3)).save(
        buffer, "PNG"
    )
    return buffer.getvalue()


async def _upload(server: RunningServer, data: bytes, name: str, **params: object):
    return await server.client.post(
        "/api/upload_image", files={"file": (name, data, "application/octet-stream")}, params=params
    )


async def test_png_upload_is_stored_and_served(sqlite_server: RunningServer) -> None:
    response = await _upload(sqlite_server, _png(), "drawing.png")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["file_id"].startswith("im_") and body["file_id"].endswith(".png")
    assert len(body["file_id"]) == len("im_") + 8 + len(".png")
    assert (body["width"], body["height"]) == (40, 30)
    assert body["url"] == f"{sqlite_server.url}/api/file/{body['file_id']}"

    served = await sqlite_server.client.get(f"/api/file/{body['file_id']}")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(served.content)).size == (40, 30)


async def test_unknown_name_becomes_jpeg_and_large_upload_shrinks(
    sqlite_server: RunningServer,
) -> None:
    unnamed = (await _upload(sqlite_server, _png(mode="RGB"), "im_Ab3dE5fG")).json()
    assert unnamed["file_id"].endswith(".jpg")

    big = _noise_png(700)
    assert len(big) > 1_000_000
    shrunk = await _upload(sqlite_server, big, "photo.png", max_size_mb=0.2)
    assert shrunk.status_code == 200
    name = shrunk.json()["file_id"]
    assert name.endswith(".jpg")
    stored = sqlite_server.services.files.path(name)
    assert stored.stat().st_size <= 0.2 * (1 << 20)
    assert Image.open(stored).format == "JPEG"


async def test_bad_uploads_are_4xx_and_leave_no_file(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "data", max_upload_mb=1)
    async with running_server(settings) as server:
        not_image = await _upload(server, b"hello, not a picture", "a.png")
        assert not_image.status_code == 400 and not_image.json()["detail"].startswith("file")

        too_big = await _upload(server, b"\0" * (1 << 20 + 1) + b"x" * 10, "a.png")
        assert too_big.status_code == 413

        # 10,000 x 10,000 pixels of one colour compress to a few KB: a decompression bomb.
        bomb = _png(10_000, 10_000, "L")
        assert len(bomb) < 1 << 20
        refused = await _upload(server, bomb, "bomb.png")
        assert refused.status_code == 400 and "pixels" in refused.json()["detail"]

        missing = await server.client.post("/api/upload_image")
        assert missing.status_code == 422
        assert list(server.services.files.dir.iterdir()) == []


async def test_file_names_are_validated(sqlite_server: RunningServer) -> None:
    client = sqlite_server.client
    (sqlite_server.services.settings.data_dir / "secret.png").write_bytes(_png())
    for name in ("..%2Fsecret.png", "..%5Csecret.png", "%2E%2E", "a b.png", ".hidden.png"):
        response = await client.get(f"/api/file/{name}")
        assert response.status_code in (400, 404), name
        assert response.headers["content-type"] == "application/json"
    missing = await client.get("/api/file/nothere.png")
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("file_id")


async def test_range_requests_for_video(sqlite_server: RunningServer) -> None:
    data = bytes(range(256)) * 40
    sqlite_server.services.files.write("vi_clip1234.mp4", data)
    part = await sqlite_server.client.get(
        "/api/file/vi_clip1234.mp4", headers={"Range": "bytes=100-199"}
    )
    assert part.status_code == 206
    assert part.content == data[100:200]
    assert part.headers["content-range"] == f"bytes 100-199/{len(data)}"
    assert part.headers["content-type"] == "video/mp4"
