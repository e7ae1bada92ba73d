"""Validate JSON bodies against docs/bureau-api.yaml `#/components/schemas/X` (JSON Schema 2020-12).

Shared by the bureau simulator tests and the kiosk-side client tests.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

API_PATH = Path(__file__).resolve().parents[1] / "docs" / "bureau-api.yaml"
_BASE_URI = "urn:ssc-kiosk:bureau-api"


@functools.cache
def api_document(path: str = str(API_PATH)) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@functools.cache
def _registry(path: str) -> Registry:
    resource = Resource.from_contents(api_document(path), default_specification=DRAFT202012)
    return Registry().with_resource(_BASE_URI, resource)


@functools.cache
def validator(name: str, path: str = str(API_PATH)) -> jsonschema.Draft202012Validator:
    """A validator for `#/components/schemas/<name>`; KeyError if the schema does not exist."""
    api_document(path)["components"]["schemas"][name]  # fail early on a typo
    return jsonschema.Draft202012Validator(
        {"$ref": f"{_BASE_URI}#/components/schemas/{name}"},
        registry=_registry(path),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


def validate(name: str, body: Any, path: str = str(API_PATH)) -> None:
    """Raise jsonschema.ValidationError (best match) if `body` does not fit the schema."""
    error = jsonschema.exceptions.best_match(validator(name, path).iter_errors(body))
    if error is not None:
        raise error


def response_schema(path_template: str, method: str, status: int) -> str | None:
    """The schema name the document gives for one answer, or None when it has no JSON body."""
    operation = api_document()["paths"][path_template][method.lower()]
    answer = operation["responses"][str(status)]
    if "$ref" in answer:
        answer = api_document()["components"]["responses"][answer["$ref"].rsplit("/", 1)[1]]
    content = answer.get("content", {}).get("application/json")
    if content is None:
        return None
    return content["schema"]["$ref"].rsplit("/", 1)[1]
