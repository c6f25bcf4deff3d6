"""Placement of generated media on an Excalidraw canvas (contract sections 1.4 and 12.4)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from muralist.ids import new_name, now_ms

if TYPE_CHECKING:
    from muralist.store import Store

logger = logging.getLogger(__name__)

GAP = 20
ROW_LIMIT = 4
MEDIA_TYPES = {"image", "embeddable", "video"}
# Past this many sideways moves the row is crowded with other shapes: start a new row instead.
MAX_SHIFTS = 50


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in canvas coordinates."""

    x: float
    y: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.x + self.width

    @property
    def bottom(self) -> float:
        return self.y + self.height

    def overlaps(self, other: Box) -> bool:
        """True when the interiors intersect (touching edges do not count)."""
        return (
            self.x < other.right
            and other.x < self.right
            and self.y < other.bottom
            and other.y < self.bottom
        )


def _box(element: Mapping[str, Any]) -> Box | None:
    try:
        x, y = float(element.get("x", 0)), float(element.get("y", 0))
        width, height = float(element.get("width", 0)), float(element.get("height", 0))
    except (TypeError, ValueError):
        return None
    # Excalidraw allows negative sizes for flipped shapes: normalise them.
    if width < 0:
        x, width = x + width, -width
    if height < 0:
        y, height = y + height, -height
    return Box(x, y, width, height)


def live_boxes(elements: Iterable[Any], types: set[str] | None = None) -> list[Box]:
    """Boxes of the non-deleted elements (of the given types, or all)."""
    boxes = []
    for element in elements:
        if not isinstance(element, Mapping) or element.get("isDeleted"):
            continue
        if types is not None and element.get("type") not in types:
            continue
        box = _box(element)
        if box is not None:
            boxes.append(box)
    return boxes


def rows(boxes: list[Box]) -> list[list[Box]]:
    """Group boxes into rows of (transitively) vertically overlapping boxes, top to bottom."""
    grouped: list[list[Box]] = []
    bottom = float("-inf")
    for box in sorted(boxes, key=lambda b: (b.y, b.x)):
        if grouped and box.y < bottom:
            grouped[-1].append(box)
            bottom = max(bottom, box.bottom)
        else:
            grouped.append([box])
            bottom = box.bottom
    return grouped


def place(elements: Iterable[Any], width: float, height: float) -> tuple[float, float]:
    """Where a new media element of this size goes, overlapping no live element.

    The lowest row of media gets the element 20 px right of its rightmost member while it has
    fewer than four; otherwise a new row starts at x=0, 20 px below it. An empty canvas
    starts at (0, 0).
    """
    elements = list(elements)
    everything = live_boxes(elements)
    media_rows = rows(live_boxes(elements, MEDIA_TYPES))
    if not media_rows:
        x, y = 0.0, 0.0
    else:
        last = media_rows[-1]
        if len(last) < ROW_LIMIT:
            x, y = max(b.right for b in last) + GAP, min(b.y for b in last)
        else:
            x, y = 0.0, max(b.bottom for b in last) + GAP

    for _ in range(MAX_SHIFTS):
        candidate = Box(x, y, width, height)
        blockers = [b for b in everything if candidate.overlaps(b)]
        if not blockers:
            return x, y
        x = max(b.right for b in blockers) + GAP
    # A crowded row: below everything is always free.
    return 0.0, max(b.bottom for b in everything) + GAP


def new_file_id(kind: Literal["image", "video"]) -> str:
    """A canvas file id: `im_` or `vi_` plus 8 characters, unrelated to the file name."""
    return ("im_" if kind == "image" else "vi_") + new_name(8)


def file_entry(file_id: str, mime_type: str, file_name: str) -> dict[str, Any]:
    """The `files` entry of section 1.4; `dataURL` is always the relative file URL."""
    return {
        "mimeType": mime_type,
        "id": file_id,
        "dataURL": f"/api/file/{file_name}",
        "created": now_ms(),
    }


def media_element(
    kind: Literal["image", "video"], file_id: str, x: float, y: float, width: float, height: float
) -> dict[str, Any]:
    """The element of section 1.4 with every field the UI expects."""
    return {
        "type": kind,
        "id": file_id,
        "fileId": file_id,
        "x": x,
        "y": y,
        "width": width,
        "height": height,
        "angle": 0,
        "strokeColor": "#000000",
        "fillStyle": "solid",
        "strokeStyle": "solid",
        "boundElements": None,
        "roundness": None,
        "frameId": None,
        "backgroundColor": "transparent",
        "strokeWidth": 1,
        "roughness": 0,
        "opacity": 100,
        "groupIds": [],
        "seed": secrets.randbelow(1_000_000),
        "versionNonce": secrets.randbelow(1_000_000),
        "version": 1,
        "isDeleted": False,
        "index": None,
        "updated": 0,
        "link": None,
        "locked": False,
        "status": "saved",
        "scale": [1, 1],
        "crop": None,
    }


@dataclass(frozen=True)
class Placement:
    """What was added to a canvas: the element and its file entry."""

    element: dict[str, Any]
    file: dict[str, Any]


def add_to_scene(
    scene: dict[str, Any],
    *,
    kind: Literal["image", "video"],
    file_name: str,
    mime_type: str,
    width: float,
    height: float,
) -> Placement:
    """Append a placed element and its file entry to a scene dict (mutates it)."""
    if not isinstance(scene.get("elements"), list):
        scene["elements"] = []
    if not isinstance(scene.get("files"), dict):
        scene["files"] = {}
    x, y = place(scene["elements"], width, height)
    file_id = new_file_id(kind)
    element = media_element(kind, file_id, x, y, width, height)
    entry = file_entry(file_id, mime_type, file_name)
    scene["elements"].append(element)
    scene["files"][file_id] = entry
    return Placement(element, entry)


async def place_on_canvas(
    store: Store,
    canvas_id: str,
    *,
    kind: Literal["image", "video"],
    file_name: str,
    mime_type: str,
    width: float,
    height: float,
) -> Placement:
    """Add media to a stored canvas under its lock (created when missing)."""
    async with store.canvases.edit(canvas_id) as scene:
        placement = add_to_scene(
            scene, kind=kind, file_name=file_name, mime_type=mime_type, width=width, height=height
        )
    logger.debug("placed %s %s on canvas %s", kind, file_name, canvas_id)
    return placement
