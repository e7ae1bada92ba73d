"""Request checking against docs/bureau-api.yaml (`#/components/schemas/X`, JSON Schema 2020-12)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DEFAULT_API = Path(__file__).resolve().parents[2] / "docs" / "bureau-api.yaml"
_BASE = "urn:ssc-kiosk:bureau-api"


class Schemas:
    """Validators by schema name, built once from the OpenAPI document."""

    def __init__(self, path: Path = DEFAULT_API) -> None:
        with open(path, encoding="utf-8") as handle:
            self.document: dict[str, Any] = yaml.safe_load(handle)
        resource = Resource.from_contents(self.document, default_specification=DRAFT202012)
        self._registry = Registry().with_resource(_BASE, resource)

    @functools.lru_cache(maxsize=None)
    def _validator(self, name: str) -> jsonschema.Draft202012Validator:
        if name not in self.document["components"]["schemas"]:
            raise KeyError(name)
        return jsonschema.Draft202012Validator(
            {"$ref": f"{_BASE}#/components/schemas/{name}"}, registry=self._registry
        )

    def problem(self, name: str, body: Any) -> str | None:
        """None when `body` fits schema `name`, else a short description (no values quoted)."""
        error = jsonschema.exceptions.best_match(self._validator(name).iter_errors(body))
        if error is None:
            return None
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        # the validator's message quotes the offending value, which may be personal data
        return f"{where}: fails '{error.validator}'"
