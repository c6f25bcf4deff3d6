"""The tool registry: which tools exist and which are enabled by the configured providers.

`ToolRegistry.get(id)` returns a runnable `muralist.tools.base.Tool` (see that module for the
execution interface); the id is also the function name the language model sees.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from muralist.providers.config import ProviderConfig
from muralist.store.workflows import WorkflowRepo
from muralist.tools.base import Tool, ToolType
from muralist.tools.comfyui.tool import workflow_tools
from muralist.tools.image_tools import image_tool
from muralist.tools.magic import magic_tool
from muralist.tools.video_tools import video_tool

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the registry lists it; the id is also the function name the model sees."""

    id: str
    provider: str
    type: ToolType
    display_name: str
    model: str = ""
    needs_confirmation: bool = False

    def info(self) -> dict[str, Any]:
        """The ToolInfo shape of GET /api/list_tools."""
        return {
            "id": self.id,
            "provider": self.provider,
            "type": self.type,
            "display_name": self.display_name,
        }


def _image(tool_id: str, provider: str, name: str, model: str) -> ToolSpec:
    return ToolSpec(tool_id, provider, "image", name, model)


def _video(tool_id: str, provider: str, name: str, model: str, confirm: bool = False) -> ToolSpec:
    return ToolSpec(tool_id, provider, "video", name, model, needs_confirmation=confirm)


# Registration order is visible in the UI (it preselects the first image and video tool).
STATIC_TOOLS: tuple[ToolSpec, ...] = (
    _image("generate_image_by_gpt_image_1_jaaz", "jaaz", "GPT Image 1", "openai/gpt-image-1"),
    _image("generate_image_by_imagen_4_jaaz", "jaaz", "Imagen 4", "google/imagen-4"),
    _image("generate_image_by_recraft_v3_jaaz", "jaaz", "Recraft v3", "recraft-ai/recraft-v3"),
    _image(
        "generate_image_by_ideogram3_bal_jaaz",
        "jaaz",
        "Ideogram 3 Balanced",
        "ideogram-ai/ideogram-v3-balanced",
    ),
    _image(
        "generate_image_by_flux_kontext_pro_jaaz",
        "jaaz",
        "Flux Kontext Pro",
        "black-forest-labs/flux-kontext-pro",
    ),
    _image(
        "generate_image_by_flux_kontext_max_jaaz",
        "jaaz",
        "Flux Kontext Max",
        "black-forest-labs/flux-kontext-max",
    ),
    _image("generate_image_by_midjourney_jaaz", "jaaz", "Midjourney", "midjourney"),
    _image(
        "generate_image_by_doubao_seedream_3_jaaz",
        "jaaz",
        "Doubao Seedream 3",
        "doubao/doubao-seedream-3-0-t2i-250415",
    ),
    _image(
        "generate_image_by_doubao_seedream_3_volces",
        "volces",
        "Doubao Seedream 3 by volces",
        "doubao-seedream-3-0-t2i-250415",
    ),
    _image(
        "edit_image_by_doubao_seededit_3_volces",
        "volces",
        "Doubao Seededit 3 by volces",
        "doubao-seededit-3-0-i2i-250628",
    ),
    _video("generate_video_by_seedance_v1_jaaz", "jaaz", "Doubao Seedance v1", "seedance-1.0-pro"),
    _video("generate_video_by_hailuo_02_jaaz", "jaaz", "Hailuo 02", "hailuo-02"),
    _video("generate_video_by_kling_v2_jaaz", "jaaz", "Kling v2.1 Standard", "kling-v2.1-standard"),
    _video("generate_video_by_veo3_fast_jaaz", "jaaz", "Veo3 Fast", "veo3-fast", confirm=True),
    _video(
        "generate_video_by_seedance_v1_pro_volces",
        "volces",
        "Doubao Seedance v1 by volces",
        "doubao-seedance-1-0-pro-250528",
    ),
    _video(
        "generate_video_by_seedance_v1_lite_volces_t2v",
        "volces",
        "Doubao Seedance v1 lite(text-to-video)",
        "doubao-seedance-1-0-lite-t2v-250428",
    ),
    _video(
        "generate_video_by_seedance_v1_lite_i2v_volces",
        "volces",
        "Doubao Seedance v1 lite(images-to-video)",
        "doubao-seedance-1-0-lite-i2v-250428",
    ),
    _image("generate_image_by_imagen_4_replicate", "replicate", "Imagen 4", "google/imagen-4"),
    _image(
        "generate_image_by_recraft_v3_replicate", "replicate", "Recraft v3", "recraft-ai/recraft-v3"
    ),
    _image(
        "generate_image_by_flux_kontext_pro_replicate",
        "replicate",
        "Flux Kontext Pro",
        "black-forest-labs/flux-kontext-pro",
    ),
    _image(
        "generate_image_by_flux_kontext_max_replicate",
        "replicate",
        "Flux Kontext Max",
        "black-forest-labs/flux-kontext-max",
    ),
    _image("generate_image_by_gpt_image_1_openai", "openai", "GPT Image 1", "gpt-image-1"),
)


def has_key(entry: dict[str, Any] | None) -> bool:
    return bool(entry and str(entry.get("api_key", "")).strip())


# Tool ids are the function names the model sees; OpenAI refuses names over 64 characters.
MAX_TOOL_ID = 64


def openai_model_tool_id(model: str) -> str:
    """The tool id of an image model listed under `openai` in config.toml.

    A model name too long for the id is cut and given a digest of the whole name, so two long
    names that share a beginning still get two tools.
    """
    head, tail = "generate_image_by_", "_openai"
    slug = "".join(ch if ch.isalnum() else "_" for ch in model.lower())
    room = MAX_TOOL_ID - len(head) - len(tail)
    if len(slug) > room:
        digest = hashlib.sha256(model.encode()).hexdigest()[:8]
        slug = f"{slug[: room - len(digest) - 1]}_{digest}"
    return head + slug + tail


def build_static_tool(spec: ToolSpec) -> Tool:
    """The runnable tool for a row of the static table."""
    return image_tool(spec) if spec.type == "image" else video_tool(spec)


class ToolRegistry:
    """Rebuilt from config.toml and the stored workflows whenever either changes."""

    def __init__(self, config: ProviderConfig, workflows: WorkflowRepo) -> None:
        self._config = config
        self._workflows = workflows
        self._tools: dict[str, Tool] = {}
        self._hidden: dict[str, Tool] = {}

    async def rebuild(self) -> None:
        """Recompute the enabled tools: static ones by provider (config order), then openai
        image models, then ComfyUI workflows when a ComfyUI URL is set."""
        providers = self._config.providers
        tools: dict[str, Tool] = {}
        for provider, entry in providers.items():
            if not has_key(entry):
                continue
            for spec in STATIC_TOOLS:
                if spec.provider == provider:
                    tools[spec.id] = build_static_tool(spec)
            if provider == "openai":
                for spec in self._openai_model_specs(entry):
                    tools.setdefault(spec.id, build_static_tool(spec))
        comfyui_url = str((providers.get("comfyui") or {}).get("url", "")).strip()
        if comfyui_url:
            for tool in workflow_tools(await self._workflows.list()):
                tools.setdefault(tool.id, tool)

        # Callable but not listed: magic (the chat's write_plan lives with the agents).
        hidden: dict[str, Tool] = {}
        if has_key(providers.get("jaaz")):
            magic = magic_tool()
            hidden[magic.id] = magic
        self._tools, self._hidden = tools, hidden
        log.info("tools enabled: %d", len(tools))

    @staticmethod
    def _openai_model_specs(entry: dict[str, Any]) -> list[ToolSpec]:
        specs = []
        for model, info in (entry.get("models") or {}).items():
            if (
                isinstance(info, dict)
                and info.get("type") == "image"
                and not info.get("is_disabled")
            ):
                specs.append(ToolSpec(openai_model_tool_id(model), "openai", "image", model, model))
        return specs

    def get(self, tool_id: str) -> Tool | None:
        """An enabled tool by id (the hidden magic tool included)."""
        return self._tools.get(tool_id) or self._hidden.get(tool_id)

    def tools(self) -> list[Tool]:
        """The listed tools, in registration order."""
        return list(self._tools.values())

    def first_of_type(self, tool_type: str) -> Tool | None:
        """The first enabled tool of a type (what the UI preselects, and the task default)."""
        return next((t for t in self._tools.values() if t.type == tool_type), None)

    def infos(self) -> list[dict[str, Any]]:
        """ToolInfo of every listed tool, in registration order."""
        return [tool.info() for tool in self._tools.values()]
