"""The tool registry: which tools exist and which are enabled by the configured providers."""

import logging
from dataclasses import dataclass
from typing import Any, Literal

from muralist.providers.config import ProviderConfig
from muralist.store.workflows import WorkflowRepo

log = logging.getLogger(__name__)

ToolType = Literal["image", "video", "system"]


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

WRITE_PLAN = ToolSpec("write_plan", "system", "system", "Write plan")


def has_key(entry: dict[str, Any] | None) -> bool:
    return bool(entry and str(entry.get("api_key", "")).strip())


class ToolRegistry:
    """Rebuilt from config.toml and the stored workflows whenever either changes."""

    def __init__(self, config: ProviderConfig, workflows: WorkflowRepo) -> None:
        self._config = config
        self._workflows = workflows
        self._tools: dict[str, ToolSpec] = {}

    async def rebuild(self) -> None:
        """Recompute the enabled tools."""
        providers = self._config.providers
        tools: dict[str, ToolSpec] = {WRITE_PLAN.id: WRITE_PLAN}
        for spec in STATIC_TOOLS:
            if has_key(providers.get(spec.provider)):
                tools[spec.id] = spec
        for spec in self._openai_model_tools(providers.get("openai")):
            tools.setdefault(spec.id, spec)
        comfyui_url = str((providers.get("comfyui") or {}).get("url", "")).strip()
        if comfyui_url:
            for row in await self._workflows.list():
                # TODO(#4): workflows become runnable tools with typed arguments (section 13.1).
                spec = ToolSpec(f"comfyui_{row['name']}", "comfyui", "image", row["name"])
                tools.setdefault(spec.id, spec)
        self._tools = tools
        log.info("tools enabled: %d", len(tools) - 1)

    @staticmethod
    def _openai_model_tools(entry: dict[str, Any] | None) -> list[ToolSpec]:
        if not has_key(entry):
            return []
        specs = []
        for model, info in (entry or {}).get("models", {}).items():
            if info.get("type") == "image" and not info.get("is_disabled"):
                tool_id = (
                    "generate_image_by_"
                    + "".join(ch if ch.isalnum() else "_" for ch in model.lower())
                    + "_openai"
                )
                specs.append(ToolSpec(tool_id, "openai", "image", model, model))
        return specs

    def get(self, tool_id: str) -> ToolSpec | None:
        return self._tools.get(tool_id)

    def specs(self) -> list[ToolSpec]:
        return list(self._tools.values())

    def infos(self) -> list[dict[str, Any]]:
        """ToolInfo of every enabled tool but the hidden system ones, in registration order."""
        return [spec.info() for spec in self._tools.values() if spec.provider != "system"]
