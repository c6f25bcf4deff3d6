"""Canvas placement (contract 12.4) and the element / file entry shapes of contract 1.4."""

from __future__ import annotations

import re
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from muralist.media.canvas import (
    Box,
    add_to_scene,
    file_entry,
    live_boxes,
    media_element,
    place,
    rows,
)


def el(
    x: float, y: float, w: float = 100, h: float = 100, kind: str = "image", **extra: Any
) -> dict[str, Any]:
    return {"type": kind, "x": x, "y": y, "width": w, "height": h, **extra}


def test_empty_canvas_starts_at_origin() -> None:
    assert place([], 512, 512) == (0, 0)


def test_next_to_the_rightmost_of_the_last_row() -> None:
    elements = [el(0, 0), el(120, 10, h=50)]
    assert place(elements, 100, 100) == (240, 0)


def test_full_row_starts_a_new_row_below() -> None:
    elements = [el(i * 120, 0, h=100 + i) for i in range(4)]
    assert place(elements, 100, 100) == (0, 103 + 20)


def test_lowest_row_is_used() -> None:
    elements = [el(0, 0), el(120, 0), el(0, 300), el(500, 0)]
    assert place(elements, 50, 50) == (120, 300)


def test_deleted_and_non_media_elements_do_not_form_rows() -> None:
    elements = [el(0, 0), el(120, 0, isDeleted=True), el(0, 500, kind="text")]
    assert place(elements, 100, 100) == (120, 0)


def test_a_shape_in_the_way_is_skipped() -> None:
    elements = [el(0, 0), el(130, 10, w=300, h=30, kind="rectangle")]
    assert place(elements, 100, 100) == (450, 0)


def test_video_and_embeddable_count_as_media() -> None:
    elements = [el(0, 0, kind="video"), el(120, 0, kind="embeddable")]
    assert place(elements, 10, 10) == (240, 0)


def test_negative_sizes_are_normalised() -> None:
    assert live_boxes([el(100, 100, w=-100, h=-50)]) == [Box(0, 50, 100, 50)]


def test_rows_merge_transitively_overlapping_boxes() -> None:
    grouped = rows([Box(0, 0, 10, 10), Box(0, 5, 10, 10), Box(0, 12, 10, 10), Box(0, 40, 10, 10)])
    assert [len(r) for r in grouped] == [3, 1]


def test_element_has_every_field_of_the_contract() -> None:
    element = media_element("image", "im_Ab3dE5fG", 1, 2, 30, 40)
    expected = {
        "type", "id", "fileId", "x", "y", "width", "height", "angle", "strokeColor", "fillStyle",
        "strokeStyle", "boundElements", "roundness", "frameId", "backgroundColor", "strokeWidth",
        "roughness", "opacity", "groupIds", "seed", "versionNonce", "version", "isDeleted", "index",
        "updated", "link", "locked", "status", "scale", "crop",
    }  # fmt: skip
    assert set(element) == expected
    assert element["id"] == element["fileId"] == "im_Ab3dE5fG"
    assert 0 <= element["seed"] < 1_000_000
    assert (
        element["status"] == "saved" and element["scale"] == [1, 1] and element["locked"] is False
    )


def test_file_entry_uses_relative_url() -> None:
    entry = file_entry("vi_12345678", "video/mp4", "vi_abcdefgh.mp4")
    assert entry["dataURL"] == "/api/file/vi_abcdefgh.mp4"
    assert entry["mimeType"] == "video/mp4"
    assert entry["id"] == "vi_12345678"
    assert entry["created"] > 1_700_000_000_000


def test_add_to_scene_repairs_a_broken_scene_and_links_file() -> None:
    scene: dict[str, Any] = {"elements": None, "appState": {"zoom": 1}}
    placement = add_to_scene(
        scene, kind="video", file_name="vi_x.mp4", mime_type="video/mp4", width=64, height=36
    )

    assert re.fullmatch(r"vi_[A-Za-z0-9]{8}", placement.element["id"])
    assert scene["elements"] == [placement.element]
    assert scene["files"] == {placement.element["id"]: placement.file}
    assert placement.element["type"] == "video"
    assert scene["appState"] == {"zoom": 1}


boxes = st.lists(
    st.tuples(
        st.integers(-500, 1500),
        st.integers(-500, 1500),
        st.integers(1, 400),
        st.integers(1, 400),
        st.sampled_from(["image", "video", "embeddable", "rectangle", "text"]),
    ),
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(boxes, st.integers(1, 600), st.integers(1, 600))
def test_a_new_element_never_overlaps_a_live_one(
    existing: list[Any], width: int, height: int
) -> None:
    elements = [el(x, y, w, h, kind) for x, y, w, h, kind in existing]
    x, y = place(elements, width, height)
    new = Box(x, y, width, height)
    assert not any(new.overlaps(box) for box in live_boxes(elements))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 300), st.integers(1, 300)), min_size=1, max_size=30))
def test_repeated_placements_never_overlap(sizes: list[tuple[int, int]]) -> None:
    scene: dict[str, Any] = {"elements": [], "files": {}}
    for width, height in sizes:
        add_to_scene(
            scene,
            kind="image",
            file_name="a.png",
            mime_type="image/png",
            width=width,
            height=height,
        )
    placed = live_boxes(scene["elements"])
    assert len(placed) == len(sizes) == len(scene["files"])
    for i, a in enumerate(placed):
        assert not any(a.overlaps(b) for b in placed[i + 1 :])
