"""The OpenAPI description covers every route the application serves."""

from __future__ import annotations

import re
from typing import Any

from callcenter.web.openapi import openapi
from tests.unit.web.support import Api


def test_every_route_is_described(api: Api) -> None:
    app = api.client.app
    served = set()
    for route in app.router.routes():
        if route.method == "HEAD":
            continue  # aiohttp adds HEAD to each GET
        path = route.resource.canonical if route.resource is not None else ""
        if not path.startswith("/api/"):
            continue  # the pages, their login and static files are not part of the API
        served.add((route.method.lower(), re.sub(r"\{(\w+)(:[^}]*)?\}", r"{\1}", path)))
    paths = openapi()["paths"]
    described = {(m, p) for p, ops in paths.items() for m in ops}
    assert served == described


def test_refs_resolve_and_ids_are_declared() -> None:
    doc = openapi()
    assert doc["openapi"] == "3.1.0"
    text = repr(doc)
    for name in re.findall(r"#/components/schemas/(\w+)", text):
        assert name in doc["components"]["schemas"]
    for path, ops in doc["paths"].items():
        for op in ops.values():
            assert op["responses"], path
            names = [p["name"] for p in op.get("parameters", []) if p["in"] == "path"]
            assert names == re.findall(r"\{(\w+)\}", path), path


async def test_served_as_json(api: Api) -> None:
    reply = await api.call("GET", "/openapi.json", who=None)
    assert reply.headers["Content-Type"].startswith("application/json")
    assert reply.body == openapi()


def _schema(doc: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    name = ref["$ref"].rpartition("/")[2]
    schema: dict[str, Any] = doc["components"]["schemas"][name]
    return schema


def test_the_limits_the_handlers_enforce_are_published() -> None:
    doc = openapi()
    post = doc["paths"]["/api/v1/incidents"]["post"]
    new = _schema(doc, post["requestBody"]["content"]["application/json"]["schema"])
    assert new["additionalProperties"] is False
    props = new["properties"]
    assert (props["caller_number"]["maxLength"], props["caller_number"]["minLength"]) == (64, 1)
    assert props["caller_name"]["maxLength"] == 128
    assert props["agent_id"]["maxLength"] == 40
    assert props["notes"]["maxLength"] == 20000
    assert "minLength" not in props["notes"]  # notes may be empty
    assert props["related_incident_id"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 2**63 - 1,
        "default": None,
        "description": props["related_incident_id"]["description"],
    }
    # Optional, but never null: no null branch is published.
    assert props["priority"]["enum"] == ["low", "normal", "high", "urgent"]
    assert "anyOf" not in props["priority"]
    params = {p["name"]: p for p in doc["paths"]["/api/v1/incidents"]["get"]["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 1000
    assert params["status"]["schema"]["type"] == "array"
    note = _schema(
        doc,
        doc["paths"]["/api/v1/service-mode"]["put"]["requestBody"]["content"]["application/json"][
            "schema"
        ],
    )["properties"]["note"]
    assert note["maxLength"] == 200  # schedule.mode's NOTE_MAX, not the incidents' 4000


def test_roles_and_error_meanings_are_in_each_operation() -> None:
    doc = openapi()
    figures = doc["paths"]["/api/v1/incidents/figures"]["get"]
    assert figures["description"].startswith("Roles: supervisor, admin, auditor.")
    assert set(figures["responses"]) == {"200", "401", "403", "422"}
    pause = doc["paths"]["/api/v1/agents/{id}/pause"]["post"]
    assert pause["responses"]["409"]["description"] == "not logged in (to that queue)"
    assert {"400", "401", "403", "404", "413", "422", "502", "503"} <= set(pause["responses"])
    for ops in doc["paths"].values():
        for op in ops.values():
            for code, answer in op["responses"].items():
                if code.startswith(("4", "5")):
                    assert answer["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"
                    }
