"""The OpenAPI description of the PBX routes (callcenter.web.pbx) and of the live
websocket (callcenter.web.live); ``callcenter.web.openapi`` serves it with the rest."""

from __future__ import annotations

from typing import Any

from callcenter.web.live import LIVE_PER_TOKEN
from callcenter.web.openapi_parts import (
    DAY,
    ERRORS,
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

_ANYONE = "Any authenticated principal."
_ACT = (
    "The agent itself (an agent token acts only on its own agent_id), or supervisors "
    "and admins on anyone."
)
AGENT_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 40},
    "description": "the agent's id (as configured, e.g. agent1)",
}
QUEUE_PARAM = {
    "name": "name",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "maxLength": 64},
}
_MEMBER_STATE = {"enum": ["free", "ringing", "on_call", "paused", "logged_out", "unavailable"]}
_SECONDS = nullable("number", description="elapsed at the answer's (or message's) time")
_CALLER = obj({"caller_num": STR, "caller_name": STR})
_PBX_ERRORS = {
    "400": ERRORS["400"],
    "401": ERRORS["401"],
    "403": error_response("an agent acting on another agent"),
    "404": error_response("no such agent"),
    "422": ERRORS["422"],
    "502": error_response(
        "the PBX refused the action or did not answer; the message gives its reason"
    ),
}
_READ_ERRORS = {"401": ERRORS["401"], "422": error_response("an unknown query parameter")}
_RATE_TARGET = obj(
    {
        "target": {"type": "number"},
        "met": nullable("boolean"),
        "at_risk": {
            "type": "boolean",
            "description": "the rate has used 80% of its allowance or more (ceilings: the "
            "target; service level: 1 - target); false without incoming calls",
        },
    }
)

PBX_SCHEMAS: dict[str, Any] = {
    "CallFigures": {
        "type": "object",
        "description": "The keys of `callcenter metrics --json` (docs/metrics.md).",
        "properties": {
            **{
                k: {"type": "integer"}
                for k in (
                    "calls",
                    "total_incoming",
                    "answered",
                    "abandoned",
                    "short_abandoned",
                    "busy",
                    "after_hours",
                    "answered_within_sl",
                )
            },
            "abandonment_rate": {"type": "number"},
            "busy_rate": {"type": "number"},
            "service_level": {"type": "number"},
            "service_level_seconds": {"type": "number"},
            "asa_seconds": nullable("number"),
            "aht_seconds": nullable("number"),
            "max_wait_seconds": nullable("number"),
            "targets": {
                "type": "object",
                "properties": {
                    "abandonment_rate": _RATE_TARGET,
                    "busy_rate": _RATE_TARGET,
                    "service_level": _RATE_TARGET,
                },
            },
        },
    },
    "Today": obj(
        {
            "all": ref("CallFigures"),
            "by_queue": {"type": "object", "additionalProperties": ref("CallFigures")},
            "coverage": {
                "type": ["object", "null"],
                "description": "Whether today so far is complete: every moment seen through "
                "AMI or the PBX record (docs/metrics.md, Coverage); `uncovered` names each "
                "interval no source covered. Null until the daemon has measured it.",
                "properties": {
                    "complete": {"type": "boolean"},
                    "uncovered": {
                        "type": "array",
                        "items": obj(
                            {
                                "from": {"type": "string", "format": "date-time"},
                                "to": {"type": "string", "format": "date-time"},
                            }
                        ),
                    },
                },
            },
        }
    ),
    "Waiting": obj(
        {
            "uniqueid": STR,
            "caller_num": STR,
            "caller_name": STR,
            "position": {"type": "integer", "minimum": 1},
            "since": TIME_OR_NULL,
            "wait_seconds": _SECONDS,
        }
    ),
    "Member": obj(
        {
            "agent_id": nullable("string"),
            "name": STR,
            "state": _MEMBER_STATE,
            "paused": {"type": "boolean"},
            "paused_reason": STR,
            "in_call_with": {"oneOf": [_CALLER, {"type": "null"}]},
            "call_seconds": _SECONDS,
        }
    ),
    "Queue": obj(
        {
            "name": STR,
            "number": STR,
            "waiting": {"type": "array", "items": ref("Waiting")},
            "waiting_count": {"type": "integer"},
            "longest_wait_seconds": {"type": "number"},
            "members": {
                "type": "array",
                "items": ref("Member"),
                "description": "every agent configured for the queue (logged_out when "
                "not a member), then any other member",
            },
            "today": ref("CallFigures"),
        }
    ),
    "Agent": obj(
        {
            "id": STR,
            "name": STR,
            "queues": {"type": "array", "items": STR, "description": "logged in to"},
            "configured_queues": {"type": "array", "items": STR},
            "state": _MEMBER_STATE,
            "paused": {"type": "boolean", "description": "in every queue it is in"},
            "paused_reason": STR,
            "paused_queues": {"type": "array", "items": STR},
            "on_call": {
                "oneOf": [
                    obj(
                        {
                            "caller_num": STR,
                            "caller_name": STR,
                            "linkedid": STR,
                            "since": TIME_OR_NULL,
                            "seconds": _SECONDS,
                        }
                    ),
                    {"type": "null"},
                ]
            },
        }
    ),
    "Call": obj(
        {
            "linkedid": STR,
            "caller_num": STR,
            "caller_name": STR,
            "queue": nullable("string"),
            "state": {"enum": ["dialplan", "queued", "ringing", "talking", "parked"]},
            "agent_id": nullable("string"),
            "agent": nullable("string"),
            "since": TIME_OR_NULL,
            "seconds": _SECONDS,
        }
    ),
    "Parked": obj(
        {
            "slot": STR,
            "lot": STR,
            "caller_num": STR,
            "caller_name": STR,
            "parker": {"type": "string", "description": "the agent id that parked it"},
            "linkedid": STR,
            "since": TIME_OR_NULL,
            "parked_seconds": {"type": "number"},
            "timeout": {"type": "integer", "description": "seconds before it rings back"},
        }
    ),
    "Transfer": obj(
        {
            "kind": {"enum": ["blind", "attended"]},
            "agent_id": STR,
            "target": {"type": "string", "description": "the number dialled"},
            "context": STR,
        }
    ),
    "ServiceMode": obj(
        {
            "managed": {
                "type": "boolean",
                "description": "false: this daemon does not write the mode (all else null)",
            },
            "mode": {"enum": ["open", "closed", None]},
            "reason": {"enum": ["hours", "holiday", "year_end", "closed_day", "override", None]},
            "until": TIME_OR_NULL,
            "note": STR,
            "override": {
                "oneOf": [
                    obj({"mode": {"enum": ["open", "closed"]}, "until": TIME, "note": STR}),
                    {"type": "null"},
                ]
            },
        }
    ),
}


def _agent_action(
    summary: str,
    body: dict[str, Any] | None,
    ok: dict[str, Any],
    conflict: str,
    description: str = "",
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"{_ACT} {description}".strip(),
        "tags": ["agents"],
        "parameters": [AGENT_PARAM],
        "responses": {"200": ok_response(ok), **_PBX_ERRORS, "409": error_response(conflict)},
    }
    if body is not None:
        op["requestBody"] = request_body(body, required=bool(body.get("required")))
    return op


_WITH_AGENT = obj({"agent": ref("Agent")})
_QUEUES_BODY = {
    "type": "array",
    "items": STR,
    "minItems": 1,
    "description": "queue names; default: the agent's configured queues (log-in), or "
    "every queue it is in (log-out)",
}
_SERVICE_ERRORS = {
    "401": ERRORS["401"],
    "403": error_response("not a supervisor or admin"),
    "409": error_response("this daemon does not manage the service mode"),
    "502": error_response("the PBX did not take it"),
}

PBX_PATHS: dict[str, Any] = {
    "/api/v1/queues": {
        "get": {
            "summary": "Every configured queue: waiting callers, members, today's figures",
            "description": _ANYONE,
            "tags": ["queues"],
            "responses": {
                "200": ok_response(obj({"queues": {"type": "array", "items": ref("Queue")}})),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/queues/{name}": {
        "get": {
            "summary": "One queue",
            "description": _ANYONE,
            "tags": ["queues"],
            "parameters": [QUEUE_PARAM],
            "responses": {
                "200": ok_response(obj({"queue": ref("Queue")})),
                **_READ_ERRORS,
                "404": error_response("no such queue"),
            },
        }
    },
    "/api/v1/agents": {
        "get": {
            "summary": "Every configured agent and its state",
            "description": _ANYONE,
            "tags": ["agents"],
            "responses": {
                "200": ok_response(obj({"agents": {"type": "array", "items": ref("Agent")}})),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/agents/{id}": {
        "get": {
            "summary": "One agent",
            "description": _ANYONE,
            "tags": ["agents"],
            "parameters": [AGENT_PARAM],
            "responses": {
                "200": ok_response(_WITH_AGENT),
                **_READ_ERRORS,
                "404": error_response("no such agent"),
            },
        }
    },
    "/api/v1/agents/{id}/login": {
        "post": _agent_action(
            "Log in to queues (unpaused); already a member is no error",
            obj({"queues": _QUEUES_BODY}),
            obj({"joined": {"type": "array", "items": STR}, "agent": ref("Agent")}),
            "not used",
            "The agent's state follows in a moment (the PBX's events).",
        )
    },
    "/api/v1/agents/{id}/logout": {
        "post": _agent_action(
            "Log out of queues",
            obj({"queues": _QUEUES_BODY}),
            obj({"left": {"type": "array", "items": STR}, "agent": ref("Agent")}),
            "queues named: not logged in there, or a permanent (queues.conf) member",
        )
    },
    "/api/v1/agents/{id}/pause": {
        "post": _agent_action(
            "Pause with a reason, in every queue or in one",
            obj(
                {
                    "reason": {
                        "type": "string",
                        "description": "at most 79 bytes in UTF-8 (about 26 Japanese "
                        "characters), no control characters",
                    },
                    "queue": STR,
                },
                ("reason",),
            ),
            _WITH_AGENT,
            "not logged in (to that queue)",
        )
    },
    "/api/v1/agents/{id}/resume": {
        "post": _agent_action(
            "End the pause, in every queue or in one",
            obj({"queue": STR}),
            _WITH_AGENT,
            "not logged in (to that queue)",
        )
    },
    "/api/v1/agents/{id}/park": {
        "post": _agent_action(
            "Park the caller the agent talks to; answers with the slot",
            obj({"timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 3600}}),
            obj({"parked": ref("Parked")}),
            "the agent is not talking to a caller",
            "Past the timeout (default: the lot's) the call rings the agent back.",
        )
    },
    "/api/v1/agents/{id}/pickup": {
        "post": _agent_action(
            "Ring the agent's phone; answered, it takes the call parked in the slot",
            obj({"slot": {"type": "string", "pattern": r"^\d+$"}}, ("slot",)),
            obj({"parked": ref("Parked")}),
            "the agent's phone is already on a call",
            "404 also for an empty slot.",
        )
    },
    "/api/v1/agents/{id}/transfer": {
        "post": _agent_action(
            "Transfer the agent's caller, blind or attended",
            obj(
                {
                    "kind": {"enum": ["blind", "attended"]},
                    "to": {
                        "type": "string",
                        "description": "a number, or a transfer target's name "
                        "(GET /api/v1/transfer-targets)",
                    },
                },
                ("kind", "to"),
            ),
            obj({"transfer": ref("Transfer")}),
            "the agent is not talking to a caller",
            "Attended: the caller waits while the agent's phone calls the target; "
            "POST .../transfer/complete joins them (or the agent hangs up).",
        )
    },
    "/api/v1/agents/{id}/transfer/complete": {
        "post": _agent_action(
            "Complete the agent's pending attended transfer",
            None,
            obj({"transfer": ref("Transfer")}),
            "no attended transfer pending, or the agent's leg is gone",
        )
    },
    "/api/v1/calls": {
        "get": {
            "summary": "The calls in progress, one per call (Linkedid)",
            "description": _ANYONE,
            "tags": ["calls"],
            "responses": {
                "200": ok_response(obj({"calls": {"type": "array", "items": ref("Call")}})),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/parked": {
        "get": {
            "summary": "The calls parked now, by slot",
            "description": _ANYONE,
            "tags": ["calls"],
            "responses": {
                "200": ok_response(obj({"parked": {"type": "array", "items": ref("Parked")}})),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/transfer-targets": {
        "get": {
            "summary": "The configured transfer targets (e.g. the second line)",
            "description": _ANYONE,
            "tags": ["calls"],
            "responses": {
                "200": ok_response(
                    obj(
                        {
                            "targets": {
                                "type": "array",
                                "items": obj({"name": STR, "number": STR, "label": STR}),
                            }
                        }
                    )
                ),
                **_READ_ERRORS,
            },
        }
    },
    "/api/v1/metrics/today": {
        "get": {
            "summary": "Today's call figures so far (service time zone), live",
            "description": f"{_ANYONE} With queue: that queue's figures only.",
            "tags": ["figures"],
            "parameters": [query_param("queue", STR, "a configured queue")],
            "responses": {
                "200": ok_response(
                    {
                        "oneOf": [
                            ref("Today"),
                            {
                                "allOf": [
                                    ref("CallFigures"),
                                    obj({"queue": STR}),
                                ]
                            },
                        ]
                    }
                ),
                **_READ_ERRORS,
                "422": error_response("unknown queue or parameter"),
            },
        }
    },
    "/api/v1/metrics": {
        "get": {
            "summary": "Call figures for the local days [from, to), from the database",
            "description": f"{STAFF_ONLY} As `callcenter metrics --json` (with by: its "
            "grouped form, {by, groups, total}).",
            "tags": ["figures"],
            "parameters": [
                query_param("from", DAY, "first day (required)"),
                query_param("to", DAY, "the day after the last (required)"),
                query_param("queue", STR, "one queue's calls"),
                query_param("by", {"enum": ["queue", "agent", "hour", "day", "month"]}, "group"),
                query_param("server", STR, "one daemon's calls (server.id)"),
            ],
            "responses": {
                "200": ok_response(
                    {"oneOf": [ref("CallFigures"), {"type": "object", "required": ["by"]}]}
                ),
                "401": ERRORS["401"],
                "403": error_response("not a supervisor or admin"),
                "422": ERRORS["422"],
                "503": error_response("the database is not available"),
            },
        }
    },
    "/api/v1/service-mode": {
        "get": {
            "summary": "The service mode (open/closed), why, until when, any override",
            "description": _ANYONE,
            "tags": ["service-mode"],
            "responses": {"200": ok_response(ref("ServiceMode")), **_READ_ERRORS},
        },
        "put": {
            "summary": "Override the mode (emergency close, or open) until a time",
            "description": f"{STAFF_ONLY} Kept in the PBX's AstDB (outlives a daemon "
            "restart); until defaults to the calendar's next change. The note is "
            "stored with the caller's name.",
            "tags": ["service-mode"],
            "requestBody": request_body(
                obj(
                    {
                        "mode": {"enum": ["open", "closed"]},
                        "until": {**TIME, "description": "with its UTC offset, future"},
                        "note": {
                            "type": "string",
                            "maxLength": 200,
                            "description": "one line, no control characters",
                        },
                    },
                    ("mode",),
                )
            ),
            "responses": {
                "200": ok_response(ref("ServiceMode")),
                "400": ERRORS["400"],
                "422": ERRORS["422"],
                **_SERVICE_ERRORS,
            },
        },
    },
    "/api/v1/service-mode/override": {
        "delete": {
            "summary": "End the override: back to the calendar",
            "description": STAFF_ONLY,
            "tags": ["service-mode"],
            "responses": {"200": ok_response(ref("ServiceMode")), **_SERVICE_ERRORS},
        }
    },
    "/api/v1/live": {
        "get": {
            "summary": "Websocket: the queues, agents, parked calls, today's figures and "
            "the service mode, pushed as they change",
            "description": (
                f"{_ANYONE} Authenticate with Authorization: Bearer, or (the pages) the "
                "login session's cookie; never a token in the URL. Connections whose token "
                "is revoked or whose session ends are closed with 4401. Text frames, JSON, "
                "numbered per connection from "
                "1 without gaps: first "
                '{"type": "snapshot", "seq", "at", "data": {queues, agents, parked, '
                "today, service_mode}} (the REST shapes: queues as GET /queues' list, "
                "today as GET /metrics/today, service_mode as GET /service-mode); then "
                '{"type": "update", "seq", "at", "data": {only the sections that '
                "changed, each whole}}, the changes of one burst in one message. "
                "Elapsed seconds are as of at (count on from there); a change of them "
                "alone is not sent. A client too slow to keep up is sent a fresh "
                'snapshot instead of what it missed. {"type": "incident", "data": '
                "incident} for an incident opened for the agent (supervisors and "
                'admins: every one). Send {"type": "snapshot"} to get a snapshot. '
                "Closed with 1001 when the server stops; reconnect for a new snapshot. "
                f"A token holds at most {LIVE_PER_TOKEN} connections at once (its "
                "sessions' and its bearer ones together): one more is refused with 429."
            ),
            "tags": ["live"],
            "security": [{"bearer": []}, {"session": []}],
            "responses": {
                "101": {"description": "Switching Protocols: the websocket"},
                "401": ERRORS["401"],
                "403": error_response("a session from another origin"),
                "422": error_response("an unknown query parameter"),
                "429": error_response(
                    f"the token holds {LIVE_PER_TOKEN} live connections already (Retry-After)"
                ),
            },
        }
    },
}
