"""The building blocks of the hand-written OpenAPI description, shared by its incident
part (openapi.py) and its PBX part (openapi_pbx.py), so neither imports the other's
private names."""

from __future__ import annotations

from typing import Any

JSON = "application/json"


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def error_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref("Error")}}}


def ok_response(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def request_body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def nullable(t: str, **extra: Any) -> dict[str, Any]:
    return {"type": [t, "null"], **extra}


STR = {"type": "string"}
NOTE = {"type": "string", "maxLength": 4000, "description": "recorded with the history entry"}
ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
ERRORS = {
    "400": error_response("the body is not JSON, or not a JSON object"),
    "401": error_response("no valid bearer token"),
    "403": error_response("the role, or (for an agent) the incident, does not allow it"),
    "404": error_response("no such incident"),
    "422": error_response("a value is refused; error.field names it"),
}


def query_param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


TIME = {"type": "string", "format": "date-time"}
TIME_OR_NULL = nullable("string", format="date-time")
DAY = {"type": "string", "format": "date"}
STAFF_ONLY = "Supervisors and admins."
