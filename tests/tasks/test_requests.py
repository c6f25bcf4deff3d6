"""Planning a V1 task: where the prompt goes for tools that do not call it `prompt`."""

from muralist.tasks.requests import TaskCreate, plan_generation
from tests.support import RunningServer

GRAPH = {
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "placeholder", "clip": ["4", 1]}},
    "7": {"class_type": "EmptyImage", "inputs": {"width": 64, "height": 64, "batch_size": 1}},
}


def _input(name: str, node: str, key: str, kind: str, default: object) -> dict:
    return {
        "name": name,
        "type": kind,
        "description": name,
        "node_id": node,
        "node_input_name": key,
        "default_value": default,
        "required": False,
    }


async def test_prompt_goes_to_a_workflows_text_input(sqlite_server: RunningServer) -> None:
    client = sqlite_server.client
    config = (await client.get("/api/config")).json()
    config["comfyui"]["url"] = "http://127.0.0.1:9"
    await client.post("/api/config", json=config)
    workflow = {
        "name": "poster",
        "api_json": GRAPH,
        "description": "Draw a poster",
        "inputs": [
            _input("width_7", "7", "width", "number", 64),
            _input("text_6", "6", "text", "string", "placeholder"),
        ],
    }
    assert (await client.post("/api/settings/comfyui/create_workflow", json=workflow)).is_success
    tool_id = next(t["id"] for t in (await client.get("/api/list_tools")).json())

    services = sqlite_server.services
    planned = plan_generation(
        services.tools, services.files, TaskCreate(prompt="a jazz night", tool=tool_id), "image"
    )
    assert planned.args["text_6"] == "a jazz night"

    explicit = TaskCreate(prompt="ignored", tool=tool_id, options={"text_6": "from options"})
    planned = plan_generation(services.tools, services.files, explicit, "image")
    assert planned.args["text_6"] == "from options"
