"""The server starts on both databases and answers its basic routes."""

from tests.support import RunningServer


async def test_fresh_server_lists_nothing(server: RunningServer) -> None:
    assert (await server.client.get("/api/list_tools")).json() == []
    assert (await server.client.get("/api/list_chat_sessions")).json() == []
    assert (await server.client.get("/api/canvas/list")).json() == []
    config = (await server.client.get("/api/config")).json()
    assert set(config) == {"jaaz", "comfyui", "ollama", "openai"}
