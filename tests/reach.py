"""Everything reachable from an object, for tests that prove personal data is gone."""

from __future__ import annotations

import types


def reachable(root: object, depth: int = 8) -> list:
    """Objects reachable from root through attributes, containers and closures."""
    seen, stack, out = set(), [(root, 0)], []
    while stack:
        obj, d = stack.pop()
        if id(obj) in seen or d > depth:
            continue
        seen.add(id(obj))
        out.append(obj)
        if isinstance(obj, (str, bytes, bytearray, int, float, type(None))):
            continue
        if isinstance(obj, dict):
            children = [*obj.keys(), *obj.values()]
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = list(obj)
        elif isinstance(obj, types.FunctionType) and obj.__closure__:
            children = [c.cell_contents for c in obj.__closure__ if c.cell_contents is not None]
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            children = list(vars(obj).values())
        else:
            children = []
        stack.extend((c, d + 1) for c in children)
    return out
