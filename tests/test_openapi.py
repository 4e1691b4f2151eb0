"""The OpenAPI description (moderation/openapi.json) matches the app: every route described, nothing invented.

Adding a route: describe it in moderation/openapi.json (path, method, security, request body, every
status it answers); the failure message of ``test_every_route_is_described`` names what is missing.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema_rs
from aiohttp import web
from schemathesis.specs.openapi.definitions import OPENAPI_31

from moderation.app import create_app
from moderation.settings import Settings
from moderation.web.openapi import load_description

from .conftest import Api

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")
# Routes the description leaves out on purpose, with the reason.
NOT_DESCRIBED = {
    "/moderate/static": "the moderator page's own CSS and JavaScript files (aiohttp static files)",
}
# aiohttp answers HEAD for every GET route by itself; the description lists the GET only.
IMPLICIT_METHODS = {"HEAD"}
# Routes registered for any method ("*") speak another service's protocol: only their POST is the API
# (other methods answer that protocol's error), so the description lists POST.
ANY_METHOD_DESCRIBED_AS = "POST"


def described() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(load_description())
    return doc


def app_routes(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path template) of every route in the app's router, minus the documented exclusions."""
    found = set()
    for route in app.router.routes():
        resource = route.resource
        assert resource is not None
        path = resource.canonical
        if path in NOT_DESCRIBED or route.method in IMPLICIT_METHODS:
            continue
        method = ANY_METHOD_DESCRIBED_AS if route.method == "*" else route.method
        found.add((method, path))
    return found


def spec_routes(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {(m.upper(), path) for path, item in doc["paths"].items() for m in item if m in HTTP_METHODS}


def test_description_is_valid_openapi_31() -> None:
    doc = described()
    assert doc["openapi"].startswith("3.1.")
    errors = [str(e) for e in jsonschema_rs.Draft202012Validator(OPENAPI_31).iter_errors(doc)]
    assert errors == []


def test_every_route_is_described(settings: Settings) -> None:
    missing = app_routes(create_app(settings)) - spec_routes(described())
    assert not missing, "routes of the app missing from moderation/openapi.json (add them there): " + ", ".join(
        f"{m} {p}" for m, p in sorted(missing, key=lambda r: (r[1], r[0]))
    )


def test_every_described_route_exists(settings: Settings) -> None:
    extra = spec_routes(described()) - app_routes(create_app(settings))
    assert not extra, "moderation/openapi.json describes routes the app does not have: " + ", ".join(
        f"{m} {p}" for m, p in sorted(extra, key=lambda r: (r[1], r[0]))
    )


def test_every_reference_resolves_and_every_operation_is_complete() -> None:
    doc = described()
    text = json.dumps(doc)
    for ref in set(re.findall(r'"\$ref": "#/([^"]+)"', text)):
        node: Any = doc
        for part in ref.split("/"):
            assert isinstance(node, dict) and part in node, f"unresolved $ref #/{ref}"
            node = node[part]
    schemes = doc["components"]["securitySchemes"]
    op_ids = set()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            name = f"{method.upper()} {path}"
            assert op.get("operationId") and op["operationId"] not in op_ids, f"{name}: unique operationId"
            op_ids.add(op["operationId"])
            assert op.get("tags"), f"{name}: a tag"
            assert "security" in op, f"{name}: say which keys it takes ([] for public)"
            for requirement in op["security"]:
                assert set(requirement) <= set(schemes), f"{name}: unknown security scheme in {requirement}"
            statuses = set(op["responses"])
            assert statuses and all(s.isdigit() for s in statuses), f"{name}: explicit statuses, no default"
            if op["security"] and op["tags"][0] in ("comments", "moderation", "admin"):
                assert "401" in statuses, f"{name}: takes a key, so it answers 401"
            if "requestBody" in op:
                assert "413" in statuses or op["tags"][0] == "perspective", f"{name}: has a body, so 413"


async def test_served_description_is_the_packaged_file(api: Api) -> None:
    response = await api.client.get("/v1/openapi.json")
    assert response.status == 200
    assert response.content_type == "application/json"
    assert await response.read() == load_description()
    # Public like the rest of the documentation: no key needed, and none in it.
    assert "mod_site_" not in (await response.text()).replace("mod_site_...", "")


def test_site_views_cannot_carry_the_email() -> None:
    # The public view forbids any property it does not list, so a leaked author_email breaks the description.
    public = described()["components"]["schemas"]["PublicComment"]
    assert public["additionalProperties"] is False
    assert "author_email" not in public["properties"]


def test_description_ships_as_package_data() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parent.parent / "pyproject.toml").read_text("utf-8"))
    assert "openapi.json" in pyproject["tool"]["setuptools"]["package-data"]["moderation"]
