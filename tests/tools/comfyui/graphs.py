"""Prompt graphs in ComfyUI's API format, for the tests against the fake."""

from __future__ import annotations

from typing import Any


def solid(width: int = 32, height: int = 16, color: int = 0x336699, steps: int = 0) -> dict:
    """EmptyImage -> (FakeSampler when steps) -> SaveImage."""
    graph: dict[str, Any] = {
        "1": {
            "class_type": "EmptyImage",
            "inputs": {"width": width, "height": height, "batch_size": 1, "color": color},
            "_meta": {"title": "Blank"},
        },
        "9": {"class_type": "SaveImage", "inputs": {"images": ["1", 0], "filename_prefix": "t"}},
    }
    if steps:
        graph["5"] = {
            "class_type": "FakeSampler",
            "inputs": {"image": ["1", 0], "steps": steps, "seed": 1},
            "_meta": {"title": "Sampler"},
        }
        graph["9"]["inputs"]["images"] = ["5", 0]
    return graph


def failing(message: str = "out of cheese") -> dict:
    return {"1": {"class_type": "FailingNode", "inputs": {"message": message}}}


def checkpoint() -> dict:
    """A graph ComfyUI rejects: the checkpoint is not installed."""
    return {
        "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "sd15.safetensors"}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["4", 0], "filename_prefix": "t"}},
    }
