"""A stored ComfyUI workflow as a tool: its typed arguments and the prompt graph they fill in."""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

ArgType = Literal["integer", "number", "boolean", "string"]

# Inputs every sampler-like node has; a fixed seed would make each call repeat the last picture.
SEED_INPUTS = ("seed", "noise_seed")
SEED_LIMIT = 2**32

_PYTHON_TYPES: dict[str, type] = {"integer": int, "number": float, "boolean": bool, "string": str}

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif", ".bmp", ".tif", ".tiff")

# The tool id `comfyui_<name>` is the function name the model sees, and OpenAI refuses a
# request whose function names are longer than 64 characters.
MAX_NAME = 64 - len("comfyui_")
_NAME = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_NAME}}}$")
_ARG_NAME = re.compile(r"^[^\x00-\x1f]{1,200}$")


class WorkflowError(ValueError):
    """A stored workflow that cannot become a tool, or arguments that do not fit it."""


@dataclass(frozen=True)
class WorkflowInput:
    """One configured input of a workflow: a tool argument written into one node input."""

    name: str
    type: ArgType
    description: str
    node_id: str
    node_input_name: str
    default: Any
    required: bool

    @property
    def takes_image(self) -> bool:
        """Whether the argument names an image file (a LoadImage-style `image` input)."""
        if self.type != "string":
            return False
        if self.node_input_name == "image":
            return True
        return isinstance(self.default, str) and self.default.lower().endswith(IMAGE_EXTENSIONS)


@dataclass(frozen=True)
class Workflow:
    """A stored workflow row, parsed: the API-format graph and its typed inputs."""

    id: int
    name: str
    description: str
    api_json: dict[str, Any]
    inputs: tuple[WorkflowInput, ...]

    @property
    def tool_id(self) -> str:
        """The registry id, which is also the function name the model sees."""
        return f"comfyui_{self.name}"


def _load_json(value: Any, field: str) -> Any:
    """Stored rows keep api_json and inputs as JSON text; accept parsed values too."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise WorkflowError(f"{field}: not valid JSON ({exc.msg})") from exc
    return value


def _arg_type(declared: Any, default: Any) -> ArgType:
    """Contract 13.1: number is int when its default is, else float; bool; else string."""
    kind = str(declared or "string").lower()
    if kind == "number":
        if isinstance(default, bool):
            return "number"
        if isinstance(default, int):
            return "integer"
        if isinstance(default, str) and re.fullmatch(r"-?\d+", default.strip()):
            return "integer"
        return "number"
    if kind in ("boolean", "bool"):
        return "boolean"
    return "string"


def _coerce(value: Any, arg: WorkflowInput) -> Any:
    """Convert one value to its argument type, or raise naming the argument."""
    try:
        if arg.type == "integer":
            if isinstance(value, bool):
                raise ValueError
            number = float(value) if isinstance(value, str) else value
            if not isinstance(number, (int, float)) or number != int(number):
                raise ValueError
            return int(number)
        if arg.type == "number":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if arg.type == "boolean":
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise WorkflowError(f"{arg.name}: expected {arg.type}, got {value!r}") from None
    if isinstance(value, (dict, list)):
        raise WorkflowError(f"{arg.name}: expected string, got {type(value).__name__}")
    return "" if value is None else str(value)


def parse_input(raw: Any, graph: Mapping[str, Any]) -> WorkflowInput:
    """Check one stored input item against the graph and type it."""
    if not isinstance(raw, dict):
        raise WorkflowError("inputs: every item must be an object")
    name = str(raw.get("name") or "").strip().replace(" ", "_")
    if not _ARG_NAME.match(name):
        raise WorkflowError(f"inputs: invalid name {name!r} (1 to 200 printable characters)")
    node_id = str(raw.get("node_id") or "")
    node_input_name = str(raw.get("node_input_name") or "")
    node = graph.get(node_id)
    if not isinstance(node, dict) or not isinstance(node.get("inputs"), dict):
        raise WorkflowError(f"inputs.{name}: node {node_id!r} is not in api_json")
    if not node_input_name:
        raise WorkflowError(f"inputs.{name}: node_input_name is required")
    default = raw.get("default_value")
    arg = WorkflowInput(
        name=name,
        type=_arg_type(raw.get("type"), default),
        description=str(raw.get("description") or ""),
        node_id=node_id,
        node_input_name=node_input_name,
        default=None,
        required=bool(raw.get("required")),
    )
    if default is not None and default != "":
        return replace(arg, default=_coerce(default, arg))
    return arg


def parse_workflow(row: Mapping[str, Any]) -> Workflow:
    """Turn a stored workflow row (api_json and inputs as JSON text or parsed) into a Workflow."""
    name = str(row.get("name") or "").strip().replace(" ", "_")
    if not _NAME.match(name):
        raise WorkflowError(
            f"name: invalid workflow name {name!r} (letters, digits, _ and -, "
            f"at most {MAX_NAME} characters)"
        )
    graph = _load_json(row.get("api_json"), "api_json")
    if not isinstance(graph, dict) or not graph:
        raise WorkflowError("api_json: must be a non-empty object of nodes")
    for node_id, node in graph.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str):
            raise WorkflowError(f"api_json.{node_id}: a node needs a class_type")
    raw_inputs = _load_json(row.get("inputs") or [], "inputs")
    if not isinstance(raw_inputs, list):
        raise WorkflowError("inputs: must be a list")
    inputs = tuple(parse_input(item, graph) for item in raw_inputs)
    names = [arg.name for arg in inputs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise WorkflowError(f"inputs: duplicate names {', '.join(duplicates)}")
    return Workflow(
        id=int(row.get("id") or 0),
        name=name,
        description=str(row.get("description") or ""),
        api_json=graph,
        inputs=inputs,
    )


def args_model(workflow: Workflow) -> type[BaseModel]:
    """The pydantic model of the tool's arguments (its JSON schema is what the model sees)."""
    fields: dict[str, Any] = {}
    names = {arg.name for arg in workflow.inputs}
    for index, arg in enumerate(workflow.inputs):
        python_type = _PYTHON_TYPES[arg.type]
        description = f"{'Required.' if arg.required else 'Optional.'} {arg.description}".strip()
        if arg.takes_image:
            description += " An image file id from the file store (e.g. im_ab12cd34.png)."
        # Stored names that cannot be field names (not identifiers, or BaseModel attributes)
        # get a positional field with the stored name as alias; schemas and dumps use aliases.
        key = arg.name if _usable_field_name(arg.name) else f"arg{index}"
        while key in fields or (key != arg.name and key in names):
            key = f"x{key}"
        if arg.required:
            fields[key] = (python_type, Field(..., alias=arg.name, description=description))
        else:
            field = Field(arg.default, alias=arg.name, description=description)
            fields[key] = (python_type | None, field)
    return create_model(  # type: ignore[call-overload,no-any-return]
        f"{workflow.name}_arguments",
        __config__=ConfigDict(
            extra="forbid", validate_by_name=True, validate_by_alias=True, serialize_by_alias=True
        ),
        __doc__=workflow.description or f"Run ComfyUI workflow {workflow.name}",
        **fields,
    )


def _usable_field_name(name: str) -> bool:
    return (
        name.isidentifier()
        and not name.startswith(("_", "model_"))
        and not hasattr(BaseModel, name)
    )


def explicit_values(args: BaseModel) -> dict[str, Any]:
    """The arguments the caller actually gave, by their stored names."""
    return {
        k: v for k, v in args.model_dump(by_alias=True, exclude_unset=True).items() if v is not None
    }


def build_prompt(workflow: Workflow, values: Mapping[str, Any]) -> dict[str, Any]:
    """A fresh copy of the graph with the arguments (else defaults) and new random seeds.

    A seed the caller did not give is random even when the input has a stored default, so
    two calls with the same arguments give two pictures.
    """
    graph = copy.deepcopy(workflow.api_json)
    given = {(arg.node_id, arg.node_input_name) for arg in workflow.inputs if arg.name in values}
    for node_id, node in graph.items():
        for key in SEED_INPUTS:
            # A list value is a link to another node's output, not a number to replace.
            current = node["inputs"].get(key)
            if isinstance(current, int) and (node_id, key) not in given:
                node["inputs"][key] = secrets.randbelow(SEED_LIMIT)
    for arg in workflow.inputs:
        target = graph[arg.node_id]["inputs"]
        if arg.name in values:
            target[arg.node_input_name] = values[arg.name]
        elif arg.default is not None and arg.node_input_name not in SEED_INPUTS:
            target[arg.node_input_name] = arg.default
    return graph
