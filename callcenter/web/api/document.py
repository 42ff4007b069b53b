"""The OpenAPI 3.1 document, generated from the endpoints and their models: nothing in
it is written twice. Each operation's description says who may call it; each error
status, what it means there."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from callcenter.web.api.endpoint import BODY_METHODS, Endpoint

JSON = "application/json"
REF = "#/components/schemas/{model}"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid", title="ErrorDetail")

    code: str
    message: str
    field: str | None = None


class Error(BaseModel):
    """Every error: ``field`` names the refused input, when there is one."""

    model_config = ConfigDict(extra="forbid", title="Error")

    error: ErrorDetail


# What each error means unless the endpoint says more.
STANDARD_ERRORS: Mapping[int, str] = {
    400: "the body is not JSON, or not a JSON object",
    401: "no valid bearer token",
    403: "the role does not allow it",
    404: "no such resource",
    413: "the body is too large",
    422: "a value is refused; error.field names it",
}


def roles_text(ep: Endpoint) -> str:
    if ep.public:
        return ""
    if ep.roles is None:
        if ep.method != "GET":
            return "Any authenticated principal but an auditor (who reads only)."
        return "Any authenticated principal."
    return f"Roles: {', '.join(ep.roles)}."


def _errors(ep: Endpoint) -> dict[int, str]:
    codes: dict[int, str] = {422: STANDARD_ERRORS[422]}  # every route refuses unknown params
    if not ep.public:
        codes[401] = STANDARD_ERRORS[401]
    if ep.roles is not None or ep.method != "GET":
        codes[403] = STANDARD_ERRORS[403]
    if ep.params:
        codes[404] = STANDARD_ERRORS[404]
    if ep.method in BODY_METHODS:
        codes[400] = STANDARD_ERRORS[400]
        codes[413] = STANDARD_ERRORS[413]
    codes.update(ep.errors)
    return dict(sorted(codes.items()))


def _answers(ep: Endpoint) -> tuple[type[BaseModel], ...]:
    if ep.ok is None:
        return ()
    return ep.ok if isinstance(ep.ok, tuple) else (ep.ok,)


def _response(description: str, schema: Mapping[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF.format(model=name)}


def _strip_titles(schema: Any) -> Any:
    """pydantic titles every property after its name: noise in a document read by people."""
    if isinstance(schema, dict):
        props = schema.get("properties")
        out = {k: _strip_titles(v) for k, v in schema.items() if k != "properties"}
        if isinstance(props, dict):
            out["properties"] = {
                name: {k: _strip_titles(v) for k, v in p.items() if k != "title"}
                for name, p in props.items()
            }
        return out
    if isinstance(schema, list):
        return [_strip_titles(v) for v in schema]
    return schema


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template=REF, mode="validation")
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", ()))
    out = []
    for name, prop in schema["properties"].items():
        prop = {k: v for k, v in prop.items() if k != "title"}
        description = prop.pop("description", "")
        param: dict[str, Any] = {"name": name, "in": "query", "required": name in required}
        if prop.get("type") == "array":
            description = f"{description} (repeated, or comma-separated)".strip()
            param.update(style="form", explode=True)
        param["schema"] = prop
        if description:
            param["description"] = description
        out.append(param)
    return out


def document(endpoints: Iterable[Endpoint], *, title: str, description: str) -> dict[str, Any]:
    eps = list(endpoints)
    models: list[tuple[type[BaseModel], JsonSchemaMode]] = [(Error, "serialization")]
    for ep in eps:
        if ep.body is not None:
            models.append((ep.body, "validation"))
        for model in _answers(ep):
            models.append((model, "serialization"))
    keys, top = models_json_schema(list(dict.fromkeys(models)), ref_template=REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))

    def schema_of(model: type[BaseModel], mode: Literal["validation", "serialization"]) -> Any:
        return keys[(model, mode)]

    paths: dict[str, dict[str, Any]] = {}
    for ep in eps:
        op: dict[str, Any] = {
            "operationId": ep.name,
            "summary": ep.summary,
            "tags": [ep.tag],
        }
        text = " ".join(t for t in (roles_text(ep), ep.description) if t)
        if text:
            op["description"] = text
        if ep.security is not None:
            op["security"] = [dict(s) for s in ep.security]
        params = [
            {
                "name": p.name,
                "in": "path",
                "required": True,
                "schema": {**p.schema, "pattern": f"^{p.pattern}$"},
                **({"description": p.description} if p.description else {}),
            }
            for p in ep.params
        ]
        if ep.query is not None:
            params.extend(_query_parameters(ep.query, schemas))
        if params:
            op["parameters"] = params
        if ep.body is not None:
            op["requestBody"] = {
                "required": ep.body_required,
                "content": {JSON: {"schema": schema_of(ep.body, "validation")}},
            }
        responses: dict[str, Any] = dict(ep.raw_responses)
        answers = [schema_of(m, "serialization") for m in _answers(ep)]
        if answers:
            schema = answers[0] if len(answers) == 1 else {"oneOf": answers}
            responses[str(ep.status)] = _response(ep.ok_description, schema)
        for code, meaning in _errors(ep).items():
            responses[str(code)] = _response(meaning, _ref("Error"))
        op["responses"] = responses
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1", "description": description},
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "schemas": _strip_titles(schemas),
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "secondLineSignature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "X-Callcenter-Signature",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "cc_session"},
            },
        },
    }
