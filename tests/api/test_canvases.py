"""Canvas routes on SQLite and PostgreSQL."""

from tests.support import RunningServer


async def _create(server: RunningServer, canvas_id: str, name: str = "New canvas") -> None:
    response = await server.client.post(
        "/api/canvas/create", json={"name": name, "canvas_id": canvas_id, "messages": []}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"id": canvas_id}


async def test_create_list_get(server: RunningServer) -> None:
    await _create(server, "c1", "First")
    await _create(server, "c2", "Second")

    listed = (await server.client.get("/api/canvas/list")).json()
    assert [c["id"] for c in listed] == ["c2", "c1"]
    assert set(listed[0]) == {"id", "name", "description", "thumbnail", "created_at", "updated_at"}

    canvas = (await server.client.get("/api/canvas/c1")).json()
    assert canvas == {"data": {}, "name": "First", "sessions": []}


async def test_duplicate_create_is_409_and_changes_nothing(server: RunningServer) -> None:
    await _create(server, "dup", "Original")
    response = await server.client.post(
        "/api/canvas/create", json={"name": "Again", "canvas_id": "dup"}
    )
    assert response.status_code == 409
    assert "canvas_id" in response.json()["detail"]
    assert (await server.client.get("/api/canvas/dup")).json()["name"] == "Original"


async def test_bad_create_bodies_name_the_field(server: RunningServer) -> None:
    missing = await server.client.post("/api/canvas/create", json={"canvas_id": "x"})
    assert missing.status_code == 422
    assert missing.json()["detail"][0]["loc"][-1] == "name"
    bad_id = await server.client.post("/api/canvas/create", json={"name": "n", "canvas_id": "a/b"})
    assert bad_id.status_code == 422
    assert bad_id.json()["detail"][0]["loc"][-1] == "canvas_id"
    assert (await server.client.get("/api/canvas/list")).json() == []


async def test_save_keeps_scene_and_thumbnail(server: RunningServer) -> None:
    await _create(server, "c1")
    scene = {"elements": [{"id": "e1", "type": "rectangle"}], "appState": {}, "files": {}}
    saved = await server.client.post(
        "/api/canvas/c1/save", json={"data": scene, "thumbnail": "/api/file/a.png"}
    )
    assert saved.json() == {"id": "c1"}
    assert (await server.client.get("/api/canvas/c1")).json()["data"] == scene
    listed = (await server.client.get("/api/canvas/list")).json()
    assert listed[0]["thumbnail"] == "/api/file/a.png"

    # A server-side edit (generated media) keeps the thumbnail the browser last sent.
    async with server.services.store.canvases.edit("c1") as edited:
        edited["elements"].append({"id": "e2", "type": "image"})
    listed = (await server.client.get("/api/canvas/list")).json()
    assert listed[0]["thumbnail"] == "/api/file/a.png"
    data = (await server.client.get("/api/canvas/c1")).json()["data"]
    assert [e["id"] for e in data["elements"]] == ["e1", "e2"]


async def test_save_moves_canvas_to_top(server: RunningServer) -> None:
    await _create(server, "old")
    await _create(server, "new")
    await server.client.post("/api/canvas/old/save", json={"data": {}, "thumbnail": ""})
    listed = (await server.client.get("/api/canvas/list")).json()
    assert [c["id"] for c in listed] == ["old", "new"]


async def test_rename_and_unknown_ids(server: RunningServer) -> None:
    await _create(server, "c1")
    assert (await server.client.post("/api/canvas/c1/rename", json={"name": "Renamed"})).json() == {
        "id": "c1"
    }
    assert (await server.client.get("/api/canvas/c1")).json()["name"] == "Renamed"

    empty = await server.client.post("/api/canvas/c1/rename", json={"name": ""})
    assert empty.status_code == 422
    assert (await server.client.get("/api/canvas/nope")).status_code == 404
    assert (
        await server.client.post("/api/canvas/nope/rename", json={"name": "x"})
    ).status_code == 404
    saved = await server.client.post("/api/canvas/nope/save", json={"data": {}, "thumbnail": ""})
    assert saved.status_code == 404
    assert (await server.client.delete("/api/canvas/nope/delete")).status_code == 404


async def test_sessions_of_canvas_newest_first_and_delete_cascades(server: RunningServer) -> None:
    await _create(server, "c1")
    await _create(server, "c2")
    store = server.services.store
    for session_id in ("s1", "s2"):
        await store.sessions.create(session_id, canvas_id="c1", title=session_id)
        await store.messages.add(session_id, {"role": "user", "content": "hi"})
    await store.sessions.create("other", canvas_id="c2", title="other")
    await store.sessions.touch("s1")

    canvas = (await server.client.get("/api/canvas/c1")).json()
    assert [s["id"] for s in canvas["sessions"]] == ["s1", "s2"]
    assert set(canvas["sessions"][0]) == {
        "id",
        "title",
        "model",
        "provider",
        "created_at",
        "updated_at",
    }

    assert (await server.client.delete("/api/canvas/c1/delete")).json() == {"id": "c1"}
    assert (await server.client.get("/api/canvas/c1")).status_code == 404
    assert (await server.client.get("/api/chat_session/s1")).json() == []
    sessions = (await server.client.get("/api/list_chat_sessions")).json()
    assert [s["id"] for s in sessions] == ["other"]


async def test_a_scene_nested_too_deep_is_refused_and_the_canvas_still_reads(
    server: RunningServer,
) -> None:
    await _create(server, "c1")
    scene = {"elements": [{"id": "e1", "type": "rectangle"}], "appState": {}, "files": {}}
    await server.client.post("/api/canvas/c1/save", json={"data": scene})

    for levels in (300, 900):
        deep: dict = {"id": "e2"}
        for _ in range(levels):
            deep = {"customData": deep}
        refused = await server.client.post(
            "/api/canvas/c1/save", json={"data": {**scene, "elements": [deep]}}
        )
        assert refused.status_code == 400, levels
        assert refused.json()["detail"].startswith("data.elements"), refused.json()

    canvas = await server.client.get("/api/canvas/c1")
    assert canvas.status_code == 200 and canvas.json()["data"] == scene
