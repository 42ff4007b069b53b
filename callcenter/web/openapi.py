"""The API described as OpenAPI 3.1, served at ``GET /api/v1/openapi.json``: the incident
routes, then the PBX ones (queues, agents, calls, figures, service mode, the websocket).

Written by hand next to the routes (a test checks that every route is described): the
descriptions carry the rules (who may call, what a 409 means) that no generator knows.
"""

from __future__ import annotations

from typing import Any

from callcenter.incidents.model import FLAGS, PRIORITIES, REPORT_HOWS, RESOLUTIONS, STATUSES
from callcenter.web.auth import ROLES
from callcenter.web.openapi_parts import (
    DAY,
    ERRORS,
    ID_PARAM,
    NOTE,
    STAFF_ONLY,
    STR,
    TIME,
    TIME_OR_NULL,
    error_response,
    nullable,
    obj,
    ok_response,
    query_param,
    ref,
    request_body,
)
from callcenter.web.openapi_pbx import PBX_PATHS, PBX_SCHEMAS


def _action(summary: str, body: dict[str, Any] | None, *, conflict: str) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": "Agents only on their own incidents; supervisors and admins on all. "
        "The actor recorded is the token's name (an agent's agent_id).",
        "tags": ["incidents"],
        "parameters": [ID_PARAM],
        "responses": {
            "200": ok_response(obj({"incident": ref("Incident")})),
            **ERRORS,
            "409": error_response(conflict),
        },
    }
    if body is not None:
        op["requestBody"] = request_body(body, required=bool(body.get("required")))
    return op


SCHEMAS: dict[str, Any] = {
    "Error": obj(
        {
            "error": obj(
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
    "ProgressReport": obj({"at": TIME, "how": {"enum": list(REPORT_HOWS)}, "by": STR, "note": STR}),
    "Incident": obj(
        {
            "id": {"type": "integer"},
            "status": {"enum": list(STATUSES)},
            "call_linkedid": nullable("string"),
            "server_id": nullable("string"),
            "caller_number": nullable("string"),
            "caller_name": nullable("string"),
            "queue": nullable("string"),
            "ivr_path": {"type": "array", "items": STR},
            "agent": nullable("string"),
            "agent_id": nullable("string"),
            "received_at": TIME,
            "answered_at": TIME_OR_NULL,
            "category": nullable("string"),
            "priority": {"enum": list(PRIORITIES)},
            "flags": {"type": "array", "items": {"enum": list(FLAGS)}},
            "escalated_at": TIME_OR_NULL,
            "escalated_by": nullable("string"),
            "escalated_to": nullable("string"),
            "escalation_answered_at": TIME_OR_NULL,
            "first_progress_at": TIME_OR_NULL,
            "progress_reports": {"type": "array", "items": ref("ProgressReport")},
            "resolved_at": TIME_OR_NULL,
            "resolved_by": nullable("string"),
            "resolution": {"enum": [*RESOLUTIONS, None]},
            "closed_at": TIME_OR_NULL,
            "related_incident_id": nullable("integer"),
            "notes": STR,
            "updated_at": TIME_OR_NULL,
        }
    ),
    "HistoryEntry": obj(
        {
            "at": TIME,
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
    "Figure": obj(
        {
            "value": nullable("number"),
            "count": {"type": "integer"},
            "target": {"type": "number"},
            "met": nullable("boolean"),
        }
    ),
    "Figures": obj(
        {
            "month": {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
            "start": TIME,
            "end": TIME,
            "incidents": {"type": "integer"},
            "unresolved": {"type": "integer"},
            "first_contact_resolution": ref("Figure"),
            "handling_seconds": ref("Figure"),
            "escalation_seconds": ref("Figure"),
            "progress_seconds": ref("Figure"),
            "satisfaction": ref("Figure"),
        }
    ),
    "Risk": obj(
        {
            "incident_id": {"type": "integer"},
            "figure": {"enum": ["handling_seconds", "progress_seconds"]},
            "state": {"enum": ["breached", "at_risk"]},
            "elapsed_seconds": {"type": "number"},
            "target_seconds": {"type": "number"},
            "urgency": {"type": "number", "description": "elapsed / target"},
            "incident": ref("Incident"),
        }
    ),
    "Survey": obj(
        {
            "respondent": STR,
            "incident_id": {"type": "integer"},
            "answers": {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 5}},
            "at": TIME,
        }
    ),
}


PATHS: dict[str, Any] = {
    "/api/v1/openapi.json": {
        "get": {
            "summary": "This description",
            "tags": ["meta"],
            "security": [],
            "responses": {"200": ok_response({"type": "object"})},
        }
    },
    "/api/v1/incidents": {
        "get": {
            "summary": "Search incidents, newest received first",
            "description": "Agents see only their own incidents (agent_id is theirs).",
            "tags": ["incidents"],
            "parameters": [
                query_param(
                    "status",
                    {"type": "string"},
                    f"one or more of {', '.join(STATUSES)} (repeated or comma-separated)",
                ),
                query_param("open", {"type": "boolean"}, "only unresolved ones"),
                query_param("agent_id", STR, "the agent's"),
                query_param("caller_number", STR, "the caller's number, exactly"),
                query_param("queue", STR, "the queue's name"),
                query_param("from", DAY, "received on or after this day (service time zone)"),
                query_param("to", DAY, "received before this day (exclusive)"),
                query_param(
                    "limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "default 100"
                ),
                query_param("offset", {"type": "integer", "minimum": 0}, "default 0"),
            ],
            "responses": {
                "200": ok_response(
                    obj(
                        {
                            "incidents": {"type": "array", "items": ref("Incident")},
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
            "requestBody": request_body(
                obj(
                    {
                        "received_at": {
                            **TIME,
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
                "201": ok_response(obj({"incident": ref("Incident")}), "Opened"),
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
                "200": ok_response(
                    obj(
                        {
                            "incident": ref("Incident"),
                            "history": {"type": "array", "items": ref("HistoryEntry")},
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
            "requestBody": request_body(
                obj(
                    {
                        "category": nullable("string"),
                        "priority": {"enum": list(PRIORITIES)},
                        "flags": {"type": "array", "items": {"enum": list(FLAGS)}},
                        "notes": STR,
                        "related_incident_id": nullable("integer", minimum=1),
                        "note": NOTE,
                    }
                )
            ),
            "responses": {"200": ok_response(obj({"incident": ref("Incident")})), **ERRORS},
        },
    },
    "/api/v1/incidents/{id}/start": {
        "post": _action(
            "Start work (received -> in_progress)",
            obj({"note": NOTE}),
            conflict="not received",
        )
    },
    "/api/v1/incidents/{id}/escalate": {
        "post": _action(
            "Hand to the second line (once per incident)",
            obj({"to": {"type": "string", "maxLength": 80}, "note": NOTE}, ("to",)),
            conflict="not received or in progress, or already escalated",
        )
    },
    "/api/v1/incidents/{id}/escalation-answer": {
        "post": _action(
            "Record the second line's answer",
            obj({"note": NOTE}),
            conflict="not escalated",
        )
    },
    "/api/v1/incidents/{id}/progress": {
        "post": _action(
            "Record a progress report to the caller",
            obj({"how": {"enum": list(REPORT_HOWS)}, "note": NOTE}, ("how",)),
            conflict="closed",
        )
    },
    "/api/v1/incidents/{id}/resolve": {
        "post": _action(
            "Resolve (default resolution: second_line if escalated, else first_line)",
            obj({"resolution": {"enum": list(RESOLUTIONS)}, "note": NOTE}),
            conflict="already resolved or closed",
        )
    },
    "/api/v1/incidents/{id}/close": {
        "post": _action("Close (final)", obj({"note": NOTE}), conflict="not resolved")
    },
    "/api/v1/incidents/{id}/reopen": {
        "post": _action(
            "Reopen (resolved -> in_progress)", obj({"note": NOTE}), conflict="not resolved"
        )
    },
    "/api/v1/incidents/{id}/surveys": {
        "post": {
            "summary": "Record a satisfaction survey from a form",
            "description": f"{STAFF_ONLY} Answers are 1 (不満) to 5 (満足); the respondent "
            "defaults to the caller's number.",
            "tags": ["incidents"],
            "parameters": [ID_PARAM],
            "requestBody": request_body(
                obj(
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
                "201": ok_response(obj({"survey": ref("Survey")}), "Stored"),
                **ERRORS,
                "409": error_response("already stored"),
            },
        }
    },
    "/api/v1/incidents/figures": {
        "get": {
            "summary": "The month's five figures with their targets",
            "description": f"{STAFF_ONLY} Incidents received, and surveys given, in the month "
            "(service time zone); docs/incidents.md.",
            "tags": ["figures"],
            "parameters": [
                query_param(
                    "month",
                    {"type": "string", "pattern": r"^\d{4}-\d{2}$"},
                    "YYYY-MM; default the current month",
                )
            ],
            "responses": {
                "200": ok_response(ref("Figures")),
                **{k: v for k, v in ERRORS.items() if k in ("401", "403", "422")},
            },
        }
    },
    "/api/v1/incidents/at-risk": {
        "get": {
            "summary": "Open incidents past, or near, a time target; most urgent first",
            "description": STAFF_ONLY,
            "tags": ["figures"],
            "responses": {
                "200": ok_response(
                    obj({"at": TIME, "risks": {"type": "array", "items": ref("Risk")}})
                ),
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
            "requestBody": request_body(
                obj({"incident_id": {"type": "integer"}, "note": NOTE}, ("incident_id",))
            ),
            "responses": {
                "200": ok_response(obj({"incident": ref("Incident")})),
                "400": ERRORS["400"],
                "401": error_response("missing, wrong or expired signature"),
                "404": error_response("no such incident, or the endpoint is disabled"),
                "409": error_response("the incident is not escalated, or the request was replayed"),
                "422": ERRORS["422"],
            },
        }
    },
}


def openapi() -> dict[str, Any]:
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
