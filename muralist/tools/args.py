"""Typed arguments of the static tools (contract section 6); their schemas reach the model."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ImageRatio = Literal["1:1", "16:9", "4:3", "3:4", "9:16"]
VideoRatio = Literal["1:1", "16:9", "4:3", "21:9"]

PROMPT = "Detailed description of the picture or video to make, in English."
INPUT_IMAGES = (
    "File ids of input pictures (for example im_ab12cd34.jpg, from the <input_images> block of "
    "the user's message or from earlier results)."
)
MAX_INPUT_IMAGES = 10


class ToolArgs(BaseModel):
    """Base of every argument model. Unknown fields are ignored: a model that adds a stray
    field should not fail a paid generation."""

    model_config = ConfigDict(extra="ignore")


class ImageArgs(ToolArgs):
    prompt: str = Field(min_length=1, max_length=8000, description=PROMPT)
    aspect_ratio: ImageRatio = Field("1:1", description="Aspect ratio of the picture.")


class ImageWithInputsArgs(ImageArgs):
    input_images: list[str] | None = Field(
        None, max_length=MAX_INPUT_IMAGES, description=INPUT_IMAGES
    )


class MidjourneyArgs(ToolArgs):
    prompt: str = Field(min_length=1, max_length=8000, description=PROMPT)
    input_images: list[str] | None = Field(
        None, max_length=MAX_INPUT_IMAGES, description=INPUT_IMAGES + " Only the first is used."
    )


class SeedEditArgs(ToolArgs):
    prompt: str = Field(min_length=1, max_length=8000, description="What to change in the picture.")
    image: list[str] = Field(
        min_length=1,
        max_length=MAX_INPUT_IMAGES,
        description=INPUT_IMAGES + " The first is edited.",
    )


class SeedanceArgs(ToolArgs):
    prompt: str = Field(min_length=1, max_length=8000, description=PROMPT)
    resolution: Literal["480p", "1080p"] = "480p"
    duration: Literal[5, 10] = 5
    aspect_ratio: VideoRatio = "16:9"
    input_images: list[str] | None = Field(
        None, max_length=2, description=INPUT_IMAGES + " The first is the opening frame."
    )
    camera_fixed: bool = Field(True, description="Keep the camera still.")


class SeedanceLiteT2VArgs(ToolArgs):
    prompt: str = Field(min_length=1, max_length=8000, description=PROMPT)
    resolution: Literal["480p", "720p"] = "480p"
    duration: Literal[5, 10] = 5
    aspect_ratio: VideoRatio = "16:9"
    camera_fixed: bool = Field(True, description="Keep the camera still.")


class SeedanceLiteI2VArgs(SeedanceLiteT2VArgs):
    input_images: list[str] = Field(
        min_length=1,
        max_length=2,
        description=INPUT_IMAGES + " One is the first frame; a second one is the last frame.",
    )


class HailuoArgs(ToolArgs):
    prompt: str = Field(min_length=1, max_length=8000, description=PROMPT)
    prompt_enhancer: bool = False
    resolution: Literal["768p", "1080p"] = "768p"
    duration: Literal[6, 10] = 6
    input_images: list[str] | None = Field(None, max_length=1, description=INPUT_IMAGES)


class KlingArgs(ToolArgs):
    prompt: str = Field(min_length=1, max_length=8000, description=PROMPT)
    input_images: list[str] = Field(min_length=1, max_length=1, description=INPUT_IMAGES)
    negative_prompt: str = ""
    guidance_scale: float = Field(0.5, ge=0, le=1)
    aspect_ratio: VideoRatio = "16:9"
    duration: Literal[5, 10] = 5


class Veo3Args(ToolArgs):
    prompt: str = Field(min_length=1, max_length=8000, description=PROMPT)


class MagicArgs(ToolArgs):
    image: str = Field(
        min_length=1, description="The picture to transform: a data: URL or a file id."
    )
