"""Uploads and file serving: re-encoding, size caps, bombs, names, Range requests."""

import asyncio
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


def _picture(mode: str, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new(mode, (24, 16)).save(buffer, fmt)
    return buffer.getvalue()


async def test_modes_the_named_format_cannot_hold_are_converted(
    sqlite_server: RunningServer,
) -> None:
    for data, name, ext in (
        (_picture("CMYK", "JPEG"), "x.gif", ".gif"),
        (_picture("LAB", "TIFF"), "x.gif", ".gif"),
        (_picture("YCbCr", "TIFF"), "x.gif", ".gif"),
        (_picture("I", "TIFF"), "x.png", ".png"),
        (_picture("F", "TIFF"), "x.png", ".png"),
        (_picture("CMYK", "TIFF"), "x.webp", ".webp"),
    ):
        response = await _upload(sqlite_server, data, name)
        assert response.status_code == 200, (name, response.text)
        file_id = response.json()["file_id"]
        assert file_id.endswith(ext)
        stored = Image.open(sqlite_server.services.files.path(file_id))
        assert stored.size == (24, 16)
        stored.load()


async def _upload_until_answered(url: str, total: int, declared: bool) -> tuple[bytes, int]:
    """Stream a multipart upload of `total` bytes over a raw HTTP/1.1 connection while
    reading the answer; returns the status line and how much was sent when it came."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    framing = b"chunked" if not declared else b""
    head = (
        b"POST /api/upload_image HTTP/1.1\r\nHost: " + host.encode() + b"\r\n"
        b"Content-Type: multipart/form-data; boundary=xyz\r\n"
        + (b"Content-Length: %d\r\n" % (total + 200) if declared else b"")
        + (b"Transfer-Encoding: chunked\r\n" if framing else b"")
        + b"\r\n"
    )
    part = b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="big.png"\r\n\r\n'
    sent = 0

    async def write() -> None:
        nonlocal sent
        writer.write(head)
        chunk = part + b"\0" * ((1 << 16) - len(part))
        while sent < total:
            body = b"%x\r\n%s\r\n" % (len(chunk), chunk) if framing else chunk
            writer.write(body)
            await writer.drain()
            sent += len(chunk)
            chunk = b"\0" * (1 << 16)

    writing = asyncio.create_task(write())
    try:
        # The timeout only turns a hang into a failure: a server that waits for the whole
        # body never answers here, since the body is never finished.
        status = await asyncio.wait_for(reader.readline(), 60)
        return status, sent
    finally:
        writing.cancel()
        writer.close()


async def test_an_upload_over_the_cap_is_refused_while_it_streams(tmp_path: Path) -> None:
    total = 64 << 20
    settings = make_settings(tmp_path / "data", max_upload_mb=1)
    async with running_server(settings) as server:
        for declared in (True, False):  # with Content-Length, and chunked without it
            status, sent = await _upload_until_answered(server.url, total, declared)
            assert status.startswith(b"HTTP/1.1 413"), (declared, status)
            # Answered early: the server did not read (and spool) the whole body first.
            assert sent < total // 2, (declared, sent)

        # The client libraries' way (httpx writes everything, then reads) gets the 413 too.
        body = b"--xyz\r\n" + b"\0" * (3 << 20)
        refused = await server.client.post(
            "/api/upload_image",
            content=body,
            headers={"Content-Type": "multipart/form-data; boundary=xyz"},
        )
        assert refused.status_code == 413 and refused.json()["detail"].startswith("file")
        assert list(server.services.files.dir.iterdir()) == []
        assert (await _upload(server, _png(), "small.png")).status_code == 200
