"""A cap on how deeply posted JSON values nest.

Config, settings and canvas scenes are shallow by nature, yet JSON lets a client nest
objects hundreds of levels deep. Such values pass validation, are stored, and then break
whatever reads them next: TOML parsers stop at 100 levels, pydantic and `copy.deepcopy`
hit recursion limits. Refusing them where they enter keeps every stored value readable.
"""

from typing import Any

from muralist.errors import BadRequest

# Far deeper than any real config, settings value or Excalidraw scene, far shallower than
# the 100 levels of TOML parsers or the ~255 of pydantic's serialiser.
MAX_NESTING = 32


def nesting_depth(value: Any, stop_at: int) -> int:
    """Levels of objects and lists in `value` (a scalar is 0), counted up to `stop_at`.

    Iterative, so a value nested deeper than Python's recursion limit is measured too.
    """
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, (list, tuple)):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest >= stop_at:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def check_nesting(value: Any, where: str, limit: int = MAX_NESTING) -> None:
    """Raise BadRequest naming the field under `where` that nests more than `limit` levels.

    `value` itself counts as the first level when it is an object or a list.
    """
    if nesting_depth(value, limit + 1) <= limit:
        return
    field = where
    children = value.items() if isinstance(value, dict) else enumerate(value)
    # Name the first key (or index) that holds the too-deep part, so the message points at it.
    for key, item in children:
        if nesting_depth(item, limit) >= limit:
            field = f"{where}.{key}"
            break
    raise BadRequest(f"{field}: nested more than {limit} levels deep")
