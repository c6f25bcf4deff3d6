"""Stored workflows as tools: typed arguments (contract 13.1), filled graphs, random seeds."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from muralist.tools.comfyui.workflow import (
    WorkflowError,
    args_model,
    build_prompt,
    explicit_values,
    parse_workflow,
)

GRAPH = {
    "1": {
        "class_type": "EmptyImage",
        "inputs": {"width": 64, "height": 64, "batch_size": 1, "color": 0},
        "_meta": {"title": "Canvas"},
    },
    "2": {"class_type": "FakeSampler", "inputs": {"image": ["1", 0], "steps": 3, "seed": 7}},
    "3": {"class_type": "SaveImage", "inputs": {"images": ["2", 0], "filename_prefix": "x"}},
    "4": {"class_type": "LoadImage", "inputs": {"image": "example.png"}},
}


def item(
    name: str, kind: str, node: str, key: str, default: object = None, required: bool = False
) -> dict[str, object]:
    return {
        "name": name,
        "type": kind,
        "description": f"the {key}",
        "node_id": node,
        "node_input_name": key,
        "default_value": default,
        "required": required,
    }


def row(inputs: list[dict[str, object]], graph: dict | None = None) -> dict[str, object]:
    """A row as the workflow repository returns it: JSON text columns."""
    return {
        "id": 3,
        "name": "solid fill",
        "description": "Fill a canvas",
        "api_json": json.dumps(graph or GRAPH),
        "inputs": json.dumps(inputs),
    }


def test_number_types_follow_the_default() -> None:
    wf = parse_workflow(
        row(
            [
                item("width_1", "number", "1", "width", 512),
                item("cfg_2", "number", "2", "steps", 7.5),
                item("steps_2", "number", "2", "steps", "20"),
                item("blank_2", "number", "2", "steps"),
                item("flag_3", "boolean", "3", "filename_prefix", True),
                item("prefix_3", "string", "3", "filename_prefix", "x"),
            ]
        )
    )
    assert wf.name == "solid_fill" and wf.tool_id == "comfyui_solid_fill"
    assert [a.type for a in wf.inputs] == [
        "integer",
        "number",
        "integer",
        "number",
        "boolean",
        "string",
    ]
    assert wf.inputs[2].default == 20
    schema = args_model(wf).model_json_schema()
    props = schema["properties"]
    assert props["width_1"]["anyOf"][0]["type"] == "integer"
    assert props["width_1"]["default"] == 512
    assert props["width_1"]["description"].startswith("Optional.")
    assert props["flag_3"]["anyOf"][0]["type"] == "boolean"
    assert schema["description"] == "Fill a canvas"


def test_required_arguments_and_field_named_errors() -> None:
    wf = parse_workflow(row([item("width_1", "number", "1", "width", 512, required=True)]))
    model = args_model(wf)
    schema = model.model_json_schema()
    assert schema["required"] == ["width_1"]
    assert schema["properties"]["width_1"]["description"].startswith("Required.")
    with pytest.raises(ValidationError) as missing:
        model.model_validate({})
    assert "width_1" in str(missing.value)
    with pytest.raises(ValidationError) as wrong:
        model.model_validate({"width_1": 12.5})
    assert "width_1" in str(wrong.value)
    with pytest.raises(ValidationError) as extra:
        model.model_validate({"width_1": 5, "widht_1": 6})
    assert "widht_1" in str(extra.value)
    assert explicit_values(model.model_validate({"width_1": "640"})) == {"width_1": 640}


def test_build_prompt_writes_arguments_then_defaults_and_keeps_stored_graph() -> None:
    wf = parse_workflow(
        row(
            [
                item("width_1", "number", "1", "width", 100),
                item("color_1", "number", "1", "color", 0),
                item("prefix_3", "string", "3", "filename_prefix", "stored"),
            ]
        )
    )
    args = args_model(wf).model_validate({"width_1": 300, "color_1": 0xFF0000})
    graph = build_prompt(wf, explicit_values(args))
    assert graph["1"]["inputs"]["width"] == 300
    assert graph["1"]["inputs"]["color"] == 0xFF0000
    assert graph["3"]["inputs"]["filename_prefix"] == "stored"
    assert graph["2"]["inputs"]["image"] == ["1", 0]  # links untouched
    assert wf.api_json["1"]["inputs"]["width"] == 64  # the stored graph is not mutated


def test_seeds_are_random_unless_given() -> None:
    wf = parse_workflow(row([item("seed_2", "number", "2", "seed", 7)]))
    seeds = {build_prompt(wf, {})["2"]["inputs"]["seed"] for _ in range(20)}
    assert len(seeds) > 15 and all(0 <= s < 2**32 for s in seeds)
    assert build_prompt(wf, {"seed_2": 42})["2"]["inputs"]["seed"] == 42


def test_image_inputs_are_marked() -> None:
    wf = parse_workflow(
        row(
            [
                item("image_4", "string", "4", "image", "example.png"),
                item("prefix_3", "string", "3", "filename_prefix", "x"),
            ]
        )
    )
    assert [a.takes_image for a in wf.inputs] == [True, False]
    description = args_model(wf).model_json_schema()["properties"]["image_4"]["description"]
    assert "file id" in description


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        ({"api_json": "{not json"}, "api_json"),
        ({"api_json": "{}"}, "api_json"),
        ({"api_json": json.dumps({"1": {"inputs": {}}})}, "api_json.1"),
        ({"name": "bad/name"}, "name"),
        ({"inputs": json.dumps([item("w", "number", "9", "width")])}, "inputs.w"),
        ({"inputs": json.dumps([item("w", "number", "1", "width", "big")])}, "w"),
        (
            {
                "inputs": json.dumps(
                    [item("w", "number", "1", "width"), item("w", "number", "1", "height")]
                )
            },
            "duplicate",
        ),
    ],
)
def test_invalid_rows_name_the_field(bad: dict[str, object], field: str) -> None:
    with pytest.raises(WorkflowError, match=field.replace(".", r"\.")):
        parse_workflow({**row([]), **bad})


def test_field_names_round_trip_through_a_plain_dump() -> None:
    """The task API stores `model_dump()` and parses it again later."""
    wf = parse_workflow(
        row(
            [
                item("width_1", "number", "1", "width", 512),
                item("1st-height", "number", "1", "height", 64),
                item("arg1", "number", "1", "color", 0),
                item("json", "string", "3", "filename_prefix", "x"),
            ]
        )
    )
    model = args_model(wf)
    assert "width_1" in model.model_fields
    assert set(model.model_json_schema()["properties"]) == {"width_1", "1st-height", "arg1", "json"}
    args = model.model_validate({"width_1": 10, "1st-height": 20, "arg1": 5, "json": "p"})
    dumped = args.model_dump(mode="json", exclude_none=True)
    assert dumped == {"width_1": 10, "1st-height": 20, "arg1": 5, "json": "p"}
    assert explicit_values(model.model_validate(dumped)) == dumped
