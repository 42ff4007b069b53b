"""The API described as OpenAPI 3.1, served at ``GET /api/v1/openapi.json``: the incident
routes, then the PBX ones (queues, agents, calls, figures, service mode, the websocket).

Written by hand next to the routes (a test checks that every route is described): the
descriptions carry the rules (who may call, what a 409 means) that no generator knows.
"""

from __future__ import annotations

from typing import Any

from callcenter.incidents.model import FLAGS, PRIORITIES, REPORT_HOWS, RESOLUTIONS, STATUSES
from callcenter.web.auth import ROLES

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref("Error")}}}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _body(schema: dict[str, Any], required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def _obj(props: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def _nullable(t: str, **extra: Any) -> dict[str, Any]:
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
    "400": _error("the body is not JSON, or not a JSON object"),
    "401": _error("no valid bearer token"),
    "403": _error("the role, or (for an agent) the incident, does not allow it"),
    "404": _error("no such incident"),
    "422": _error("a value is refused; error.field names it"),
}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "schema": schema,
        "description": description,
    }


def _action(summary: str, body: dict[str, Any] | None, *, conflict: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": "Agents only on their own incidents; supervisors and admins on all. "
        "The actor recorded is the token's name (an agent's agent_id).",
        "tags": ["incidents"],
        "parameters": [ID_PARAM],
        "responses": {
            "200": _ok(_obj({"incident": _ref("Incident")})),
            **ERRORS,
            "409": _error(conflict),
        },
    }
    if body is not None:
        op["requestBody"] = _body(body, required=bool(body.get("required")))
    return op


_TIME = {"type": "string", "format": "date-time"}
_TIME_OR_NULL = _nullable("string", format="date-time")

SCHEMAS: dict[str, Any] = {
    "Error": _obj(
        {
            "error": _obj(
                {
                    "code": {
                        "type": "string",
                        "examples": ["invalid", "conflict", "unauthorized", "forbidden"],
                    },
                    "message": STR,
                    "field": {"type": "string", "description": "the refused input, if any"},
                },
                ("code", "message"),
            )
        },
        ("error",),
    ),
    "ProgressReport": _obj(
        {"at": _TIME, "how": {"enum": list(REPORT_HOWS)}, "by": STR, "note": STR}
    ),
    "Incident": _obj(
        {
            "id": {"type": "integer"},
            "status": {"enum": list(STATUSES)},
            "call_linkedid": _nullable("string"),
            "server_id": _nullable("string"),
            "caller_number": _nullable("string"),
            "caller_name": _nullable("string"),
            "queue": _nullable("string"),
            "ivr_path": {"type": "array", "items": STR},
            "agent": _nullable("string"),
            "agent_id": _nullable("string"),
            "received_at": _TIME,
            "answered_at": _TIME_OR_NULL,
            "category": _nullable("string"),
            "priority": {"enum": list(PRIORITIES)},
            "flags": {"type": "array", "items": {"enum": list(FLAGS)}},
            "escalated_at": _TIME_OR_NULL,
            "escalated_by": _nullable("string"),
            "escalated_to": _nullable("string"),
            "escalation_answered_at": _TIME_OR_NULL,
            "first_progress_at": _TIME_OR_NULL,
            "progress_reports": {"type": "array", "items": _ref("ProgressReport")},
            "resolved_at": _TIME_OR_NULL,
            "resolved_by": _nullable("string"),
            "resolution": {"enum": [*RESOLUTIONS, None]},
            "closed_at": _TIME_OR_NULL,
            "related_incident_id": _nullable("integer"),
            "notes": STR,
            "updated_at": _TIME_OR_NULL,
        }
    ),
    "HistoryEntry": _obj(
        {
            "at": _TIME,
            "actor": STR,
            "action": STR,
            "changes": {
                "type": "object",
                "description": "each changed field as [old, new]",
                "additionalProperties": {"type": "array", "minItems": 2, "maxItems": 2},
            },
            "note": STR,
        }
    ),
    "Figure": _obj(
        {
            "value": _nullable("number"),
            "count": {"type": "integer"},
            "target": {"type": "number"},
            "met": _nullable("boolean"),
        }
    ),
    "Figures": _obj(
        {
            "month": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
            "start": _TIME,
            "end": _TIME,
            "incidents": {"type": "integer"},
            "unresolved": {"type": "integer"},
            "first_contact_resolution": _ref("Figure"),
            "handling_seconds": _ref("Figure"),
            "escalation_seconds": _ref("Figure"),
            "progress_seconds": _ref("Figure"),
            "satisfaction": _ref("Figure"),
        }
    ),
    "Risk": _obj(
        {
            "incident_id": {"type": "integer"},
            "figure": {"enum": ["handling_seconds", "progress_seconds"]},
            "state": {"enum": ["breached", "at_risk"]},
            "elapsed_seconds": {"type": "number"},
            "target_seconds": {"type": "number"},
            "urgency": {"type": "number", "description": "elapsed / target"},
            "incident": _ref("Incident"),
        }
    ),
    "Survey": _obj(
        {
            "respondent": STR,
            "incident_id": {"type": "integer"},
            "answers": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 5}},
            "at": _TIME,
        }
    ),
}

_DAY = {"type": "string", "format": "date"}
_STAFF_ONLY = "Supervisors and admins."

PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This description",
            "tags": ["meta"],
            "security": [],
            "responses": {"200": _ok({"type": "object"})},
        }
    },
    "/api/v1/incidents": {
        "get": {
            "summary": "Search incidents, newest received first",
            "description": "Agents see only their own incidents (agent_id is theirs).",
            "tags": ["incidents"],
            "parameters": [
                _query(
                    "status",
                    {"type": "string"},
                    f"one or more of {', '.join(STATUSES)} (repeated or comma-separated)",
                ),
                _query("open", {"type": "boolean"}, "only unresolved ones"),
                _query("agent_id", STR, "the agent's"),
                _query("caller_number", STR, "the caller's number, exactly"),
                _query("queue", STR, "the queue's name"),
                _query("from", _DAY, "received on or after this day (service time zone)"),
                _query("to", _DAY, "received before this day (exclusive)"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100"),
                _query("offset", {"type": "integer", "minimum": 0}, "default 0"),
            ],
            "responses": {
                "200": _ok(
                    _obj(
                        {
                            "incidents": {"type": "array", "items": _ref("Incident")},
                            "limit": {"type": "integer"},
                            "offset": {"type": "integer"},
                        }
                    )
                ),
                **{k: v for k, v in ERRORS.items() if k != "404"},
            },
        },
        "post": {
            "summary": "Open an incident by hand (no call)",
            "description": "Supervisors and admins for anyone; an agent for itself only "
            "(agent_id defaults to, and must be, its own).",
            "tags": ["incidents"],
            "requestBody": _body(
                _obj(
                    {
                        "received_at": {
                            **_TIME,
                            "description": "with its UTC offset; default now",
                        },
                        "caller_number": STR,
                        "caller_name": STR,
                        "queue": STR,
                        "agent": STR,
                        "agent_id": STR,
                        "category": STR,
                        "priority": {"enum": list(PRIORITIES)},
                        "flags": {"type": "array", "items": {"enum": list(FLAGS)}},
                        "notes": STR,
                        "related_incident_id": {
                            "type": "integer",
                            "minimum": 1,
                            "description": "agents: only their own incidents (an unknown "
                            "id and another's get the same 422)",
                        },
                    }
                ),
                required=False,
            ),
            "responses": {
                "201": _ok(_obj({"incident": _ref("Incident")}), "Opened"),
                **{k: v for k, v in ERRORS.items() if k != "404"},
            },
        },
    },
    "/api/v1/incidents/{id}": {
        "get": {
            "summary": "One incident and its history",
            "description": "Agents only their own.",
            "tags": ["incidents"],
            "parameters": [ID_PARAM],
            "responses": {
                "200": _ok(
                    _obj(
                        {
                            "incident": _ref("Incident"),
                            "history": {"type": "array", "items": _ref("HistoryEntry")},
                        }
                    )
                ),
                **ERRORS,
            },
        },
        "patch": {
            "summary": "Change details (allowed at any status, closed included)",
            "description": "Agents only their own. At least one field besides note.",
            "tags": ["incidents"],
            "parameters": [ID_PARAM],
            "requestBody": _body(
                _obj(
                    {
                        "category": _nullable("string"),
                        "priority": {"enum": list(PRIORITIES)},
                        "flags": {"type": "array", "items": {"enum": list(FLAGS)}},
                        "notes": STR,
                        "related_incident_id": _nullable("integer", minimum=1),
                        "note": NOTE,
                    }
                )
            ),
            "responses": {"200": _ok(_obj({"incident": _ref("Incident")})), **ERRORS},
        },
    },
    "/api/v1/incidents/{id}/start": {
        "post": _action(
            "Start work (received -> in_progress)",
            _obj({"note": NOTE}),
            conflict="not received",
        )
    },
    "/api/v1/incidents/{id}/escalate": {
        "post": _action(
            "Hand to the second line (once per incident)",
            _obj({"to": {"type": "string", "maxLength": 80}, "note": NOTE}, ("to",)),
            conflict="not received or in progress, or already escalated",
        )
    },
    "/api/v1/incidents/{id}/escalation-answer": {
        "post": _action(
            "Record the second line's answer",
            _obj({"note": NOTE}),
            conflict="not escalated",
        )
    },
    "/api/v1/incidents/{id}/progress": {
        "post": _action(
            "Record a progress report to the caller",
            _obj({"how": {"enum": list(REPORT_HOWS)}, "note": NOTE}, ("how",)),
            conflict="closed",
        )
    },
    "/api/v1/incidents/{id}/resolve": {
        "post": _action(
            "Resolve (default resolution: second_line if escalated, else first_line)",
            _obj({"resolution": {"enum": list(RESOLUTIONS)}, "note": NOTE}),
            conflict="already resolved or closed",
        )
    },
    "/api/v1/incidents/{id}/close": {
        "post": _action("Close (final)", _obj({"note": NOTE}), conflict="not resolved")
    },
    "/api/v1/incidents/{id}/reopen": {
        "post": _action(
            "Reopen (resolved -> in_progress)", _obj({"note": NOTE}), conflict="not resolved"
        )
    },
    "/api/v1/incidents/{id}/surveys": {
        "post": {
            "summary": "Record a satisfaction survey from a form",
            "description": f"{_STAFF_ONLY} Answers are 1 (不満) to 5 (満足); the respondent "
            "defaults to the caller's number.",
            "tags": ["incidents"],
            "parameters": [ID_PARAM],
            "requestBody": _body(
                _obj(
                    {
                        "answers": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "integer", "minimum": 1, "maximum": 5},
                        },
                        "respondent": STR,
                    },
                    ("answers",),
                )
            ),
            "responses": {
                "201": _ok(_obj({"survey": _ref("Survey")}), "Stored"),
                **ERRORS,
                "409": _error("already stored"),
            },
        }
    },
    "/api/v1/incidents/figures": {
        "get": {
            "summary": "The month's five figures with their targets",
            "description": f"{_STAFF_ONLY} Incidents received, and surveys given, in the month "
            "(service time zone); docs/incidents.md.",
            "tags": ["figures"],
            "parameters": [
                _query(
                    "month",
                    {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
                    "YYYY-MM; default the current month",
                )
            ],
            "responses": {
                "200": _ok(_ref("Figures")),
                **{k: v for k, v in ERRORS.items() if k in ("401", "403", "422")},
            },
        }
    },
    "/api/v1/incidents/at-risk": {
        "get": {
            "summary": "Open incidents past, or near, a time target; most urgent first",
            "description": _STAFF_ONLY,
            "tags": ["figures"],
            "responses": {
                "200": _ok(_obj({"at": _TIME, "risks": {"type": "array", "items": _ref("Risk")}})),
                **{k: v for k, v in ERRORS.items() if k in ("401", "403")},
            },
        }
    },
    "/api/v1/second-line/incidents/{id}/answer": {
        "post": {
            "summary": "The second line's answer (signed, no bearer token)",
            "description": "Signed like our webhooks: X-Callcenter-Timestamp (unix seconds) "
            'and X-Callcenter-Signature: v1=<hex HMAC-SHA256 of "timestamp.body"> with '
            "the shared second-line secret, within 300 s. The body must name the incident "
            "(incident_id, as in the URL: the signature does not cover the URL), and each "
            "signed request is accepted once (409 replayed). Recorded as "
            "escalation_answered by second-line. 404 when the endpoint is not configured.",
            "tags": ["second-line"],
            "security": [{"secondLineSignature": []}],
            "parameters": [ID_PARAM],
            "requestBody": _body(
                _obj({"incident_id": {"type": "integer"}, "note": NOTE}, ("incident_id",))
            ),
            "responses": {
                "200": _ok(_obj({"incident": _ref("Incident")})),
                "400": ERRORS["400"],
                "401": _error("missing, wrong or expired signature"),
                "404": _error("no such incident, or the endpoint is disabled"),
                "409": _error("the incident is not escalated, or the request was replayed"),
                "422": ERRORS["422"],
            },
        }
    },
}


def openapi() -> dict[str, Any]:
    # Imported here: the PBX part builds on this module's helpers.
    from callcenter.web.openapi_pbx import PBX_PATHS, PBX_SCHEMAS

    return {
        "openapi": "3.1.0",
        "info": {
            "title": "callcenter API",
            "version": "1",
            "description": 'Errors are always {"error": {"code", "message", "field"?}}. '
            f"Bearer tokens with a role: {', '.join(ROLES)}; an agent acts only on itself, its "
            "own calls and its own incidents.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": {**PATHS, **PBX_PATHS},
        "components": {
            "schemas": {**SCHEMAS, **PBX_SCHEMAS},
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
