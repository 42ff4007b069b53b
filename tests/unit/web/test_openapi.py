"""The OpenAPI description covers every route the application serves."""

from __future__ import annotations

import re

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
