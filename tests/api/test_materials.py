"""The material browser stays inside the file store and the folders the user listed."""

from pathlib import Path

from tests.support import RunningServer


def _tree(root: Path) -> Path:
    library = root / "library"
    (library / "posters").mkdir(parents=True)
    (library / "posters" / "b.png").write_bytes(b"\x89PNG fake")
    (library / "A.jpg").write_bytes(b"jpeg")
    (library / "clip.mp4").write_bytes(b"0123456789" * 10)
    (library / "notes.txt").write_text("hello")
    (library / ".hidden.png").write_bytes(b"x")
    with open(bytes(library) + b"/bad\xff.png", "wb") as handle:  # a name that is not UTF-8
        handle.write(b"png")
    return library


async def test_default_root_is_the_file_store(sqlite_server: RunningServer) -> None:
    sqlite_server.services.files.write("im_abcdefgh.png", b"png")
    listing = (await sqlite_server.client.get("/api/browse_filesystem")).json()
    assert listing["current_path"] == str(sqlite_server.services.files.dir.resolve())
    assert listing["parent_path"] is None
    assert [item["name"] for item in listing["items"]] == ["im_abcdefgh.png"]


async def test_listed_folder_browse_media_info_serve(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    client = sqlite_server.client
    library = _tree(tmp_path)
    await client.post("/api/settings", json={"material_dirs": [str(library)]})

    listing = (await client.get("/api/browse_filesystem", params={"path": str(library)})).json()
    names = [item["name"] for item in listing["items"]]
    assert names == ["posters", "A.jpg", "clip.mp4", "notes.txt"]
    assert listing["parent_path"] is None
    kinds = {item["name"]: item["type"] for item in listing["items"]}
    assert kinds == {
        "posters": "folder",
        "A.jpg": "image",
        "clip.mp4": "video",
        "notes.txt": "document",
    }
    assert listing["items"][0]["size"] is None

    inner = await client.get("/api/browse_filesystem", params={"path": str(library / "posters")})
    assert inner.json()["parent_path"] == str(library)

    media = (await client.get("/api/get_media_files", params={"path": str(library)})).json()
    assert sorted(item["name"] for item in media) == ["A.jpg", "clip.mp4"]

    info = (
        await client.get("/api/get_file_info", params={"file_path": str(library / "A.jpg")})
    ).json()
    assert info["mime_type"] == "image/jpeg" and info["size"] == 4 and info["is_media"] is True

    part = await client.get(
        "/api/serve_file",
        params={"file_path": str(library / "clip.mp4")},
        headers={"Range": "bytes=0-9"},
    )
    assert part.status_code == 206 and part.content == b"0123456789"
    text = await client.get("/api/serve_file", params={"file_path": str(library / "notes.txt")})
    assert text.status_code == 400


async def test_paths_outside_the_roots_are_refused(
    sqlite_server: RunningServer, tmp_path: Path
) -> None:
    client = sqlite_server.client
    library = _tree(tmp_path)
    await client.post("/api/settings", json={"material_dirs": [str(library)]})
    (library / "escape").symlink_to(tmp_path)
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"secret")

    for route, key, value in [
        ("/api/browse_filesystem", "path", "/"),
        ("/api/browse_filesystem", "path", str(library / "..")),
        ("/api/browse_filesystem", "path", str(library / "escape")),
        ("/api/serve_file", "file_path", str(secret)),
        ("/api/serve_file", "file_path", str(library / "escape" / "secret.png")),
        ("/api/get_file_info", "file_path", "/etc/passwd"),
        ("/api/get_media_files", "path", str(Path.home())),
    ]:
        response = await client.get(route, params={key: value})
        assert response.status_code == 403, (route, value)
        assert response.json()["detail"].startswith(key)

    relative = await client.get("/api/browse_filesystem", params={"path": "library"})
    assert relative.status_code == 400
    gone = await client.get("/api/browse_filesystem", params={"path": str(library / "nope")})
    assert gone.status_code == 404
    outside = await client.post("/api/open_folder_in_explorer", json={"path": "/"})
    assert outside.status_code == 403


async def test_names_longer_than_the_file_system_allows_are_400(
    sqlite_server: RunningServer,
) -> None:
    client = sqlite_server.client
    too_long = str(sqlite_server.services.files.dir.resolve() / ("a" * 300) / "b.png")
    for method, route, key in [
        ("GET", "/api/browse_filesystem", "path"),
        ("GET", "/api/get_media_files", "path"),
        ("GET", "/api/serve_file", "file_path"),
        ("GET", "/api/get_file_info", "file_path"),
        ("GET", "/api/get_file_thumbnail", "file_path"),
        ("POST", "/api/open_folder_in_explorer", "path"),
    ]:
        if method == "GET":
            response = await client.get(route, params={key: too_long})
        else:
            response = await client.post(route, json={key: too_long})
        assert response.status_code == 400, (route, response.text)
        assert response.json()["detail"].startswith(key), response.json()
