"""Request checking against docs/bureau-api.yaml (`#/components/schemas/X`, JSON Schema 2020-12)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import yaml

DEFAULT_API = Path(__file__).resolve().parents[2] / "docs" / "bureau-api.yaml"


class Schemas:
    """Validators by schema name, built once from the OpenAPI document."""

    def __init__(self, path: Path = DEFAULT_API) -> None:
        with open(path, encoding="utf-8") as handle:
            self.document: dict[str, Any] = yaml.safe_load(handle)
        self._validators: dict[str, jsonschema.Draft202012Validator] = {}

    def _validator(self, name: str) -> jsonschema.Draft202012Validator:
        if name not in self._validators:
            schemas = self.document["components"]["schemas"]
            # refs inlined once: resolving them on every validation tripled the cost per item
            self._validators[name] = jsonschema.Draft202012Validator(
                _inline(schemas[name], schemas))
        return self._validators[name]

    def problem(self, name: str, body: Any) -> str | None:
        """None when `body` fits schema `name`, else a short description (no values quoted)."""
        error = jsonschema.exceptions.best_match(self._validator(name).iter_errors(body))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        # the validator's message quotes the offending value, which may be personal data
        return f"{where}: fails '{error.validator}'"


def _inline(node: Any, schemas: dict[str, Any], depth: int = 0) -> Any:
    """Replace local `#/components/schemas/X` refs by copies of X (the document has no cycles)."""
    if depth > 50:
        raise ValueError("schema refs nest too deep (a cycle?)")
    if isinstance(node, list):
        return [_inline(item, schemas, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _inline(v, schemas, depth + 1) for k, v in node.items() if k != "$ref"}
    ref = node.get("$ref")
    if ref is None:
        return out
    target = _inline(schemas[ref.rsplit("/", 1)[1]], schemas, depth + 1)
    return {"allOf": [target], **out} if out else target
