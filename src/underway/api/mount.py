"""`include_in`: the API in a host FastAPI app, under a prefix and in the host's OpenAPI document.

FastAPI documents a mounted app's routes in that app's own document only, and `include_router`
would leave behind what the API wraps around its routes (the checks of hosts, body sizes and
clients, the JSON error answers, its state). So the API stays one application, mounted, and
its document joins the host's: paths under the prefix, components and operation ids renamed
where the host already uses the name for something else.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI

from ..errors import ConfigurationError

Renames = dict[tuple[str, str], str]


def include_in(host: FastAPI, api: FastAPI, *, prefix: str) -> None:
    """Serve `api` (from `create_api`) under `prefix` in `host`, its routes listed in the
    host's /openapi.json. With `prefix=""` the host's own routes answer first."""
    path = mount_path(prefix)
    host.mount(path, api)
    host_document = host.openapi

    def openapi() -> dict[str, Any]:
        if host.openapi_schema is None:
            host.openapi_schema = merged_document(host_document(), api.openapi(), path)
        return host.openapi_schema

    host.openapi = openapi  # type: ignore[method-assign]


def mount_path(prefix: str) -> str:
    path = prefix.rstrip("/")
    if path and not path.startswith("/"):
        raise ConfigurationError(f"bad prefix {prefix!r}: write it as a path, like '/jobs'")
    return path


def merged_document(host: dict[str, Any], api: dict[str, Any], prefix: str) -> dict[str, Any]:
    """The host's document plus the API's operations under `prefix`; neither is changed."""
    document = copy.deepcopy(host)
    theirs = document.setdefault("components", {})
    tag = re.sub(r"[^A-Za-z0-9]+", "_", prefix).strip("_") or "underway"
    renames = _component_renames(theirs, api.get("components", {}), tag)
    operation_ids = _operation_id_renames(document, api, tag)
    ours = _rewritten(api, _references(renames), operation_ids, _schemes(renames))
    for section, entries in ours.get("components", {}).items():
        for name, value in entries.items():
            theirs.setdefault(section, {})[renames.get((section, name), name)] = value
    paths = document.setdefault("paths", {})
    for route, operations in ours.get("paths", {}).items():
        for method, operation in operations.items():
            paths.setdefault(prefix + route, {}).setdefault(method, operation)
    return document


def _component_renames(theirs: dict[str, Any], ours: dict[str, Any], tag: str) -> Renames:
    """New names for our components whose names the host uses for something else; repeated
    until stable, since a renamed component changes the components that refer to it."""
    renames: Renames = {}
    while True:
        references, schemes = _references(renames), _schemes(renames)
        clashes = [
            (section, name)
            for section, entries in ours.items()
            for name, value in entries.items()
            if (section, name) not in renames
            and name in theirs.get(section, {})
            and theirs[section][name] != _rewritten(value, references, {}, schemes)
        ]
        if not clashes:
            return renames
        for section, name in clashes:
            taken = [*theirs.get(section, {}), *ours[section], *renames.values()]
            renames[(section, name)] = _free_name(f"{tag}_{name}", taken)


def _operation_id_renames(host: dict[str, Any], api: dict[str, Any], tag: str) -> dict[str, str]:
    taken = set(_operation_ids(host))
    renames = {}
    for operation_id in _operation_ids(api):
        if operation_id in taken:
            renames[operation_id] = _free_name(f"{tag}_{operation_id}", taken)
            taken.add(renames[operation_id])
    return renames


def _operation_ids(document: dict[str, Any]) -> list[str]:
    operations = [op for item in document.get("paths", {}).values() for op in item.values()]
    return [op["operationId"] for op in operations if isinstance(op, dict) and "operationId" in op]


def _free_name(name: str, taken: Iterable[str]) -> str:
    used = set(taken)
    candidate, number = name, 1
    while candidate in used:
        number += 1
        candidate = f"{name}_{number}"
    return candidate


def _references(renames: Renames) -> dict[str, str]:
    return {
        f"#/components/{section}/{name}": f"#/components/{section}/{new}"
        for (section, name), new in renames.items()
    }


def _schemes(renames: Renames) -> dict[str, str]:
    return {name: new for (section, name), new in renames.items() if section == "securitySchemes"}


def _rewritten(
    node: Any, references: dict[str, str], operation_ids: dict[str, str], schemes: dict[str, str]
) -> Any:
    """A copy of `node` with `$ref`s, operation ids (links name them too) and security scheme
    names replaced."""
    if isinstance(node, list):
        return [_rewritten(item, references, operation_ids, schemes) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$ref" and isinstance(value, str):
            result[key] = references.get(value, value)
        elif key == "operationId" and isinstance(value, str):
            result[key] = operation_ids.get(value, value)
        elif key == "security" and isinstance(value, list):
            result[key] = [{schemes.get(k, k): v for k, v in need.items()} for need in value]
        else:
            result[key] = _rewritten(value, references, operation_ids, schemes)
    return result
