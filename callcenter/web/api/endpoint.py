"""One declaration per route: its path, who may call it, the models of its query, body
and answer, and what its errors mean. From it come the aiohttp route (with the checks
done before the handler runs), and its part of the OpenAPI document (``document``).

A handler is a method taking the request and, when declared, ``query=`` and ``body=``
as validated models; it returns its answer model (200, or ``status``), or a ``Reply``
for another status or headers. Anything a model refuses is a 422 naming the field; a
body that is not a JSON object is a 400; an unknown query parameter is a 422 on every
route (a typo is never silently ignored).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any, TypeVar

from aiohttp import web
from multidict import MultiMapping
from pydantic import BaseModel, ValidationError

from callcenter.web.api.problems import as_api_error, json_type
from callcenter.web.auth import Role, principal, public, require_role
from callcenter.web.errors import ApiError, invalid, json_response

_F = TypeVar("_F", bound=Callable[..., Awaitable[Any]])
_ATTR = "__callcenter_endpoint__"
# What a change was asked with, as validated: the audit trail records it.
AUDIT_DETAIL: Any = (
    web.RequestKey("audit_detail", dict) if hasattr(web, "RequestKey") else "audit_detail"
)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True)
class PathParam:
    """A path parameter: its route pattern (aiohttp) and its schema (OpenAPI)."""

    name: str
    pattern: str  # a regular expression without anchors
    schema: Mapping[str, Any]
    description: str = ""


@dataclass(frozen=True)
class Reply:
    """An answer with a status other than the endpoint's, or with headers."""

    model: BaseModel
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str  # as OpenAPI writes it: /api/v1/incidents/{id}
    summary: str
    tag: str
    description: str = ""
    roles: tuple[Role, ...] | None = None  # None: any principal
    params: tuple[PathParam, ...] = ()
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_required: bool = False
    # The answer's model; several: the answer is one of them (OpenAPI oneOf).
    ok: type[BaseModel] | tuple[type[BaseModel], ...] | None = None
    status: int = 200
    ok_description: str = "OK"
    errors: Mapping[int, str] = field(default_factory=dict)
    public: bool = False
    # False: the handler reads the body itself (to check a signature over its bytes first).
    parse_body: bool = True
    # OpenAPI's security for this operation when not the document's (bearer).
    security: tuple[Mapping[str, list[str]], ...] | None = None
    # Answers outside the JSON models (the websocket's 101).
    raw_responses: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    name: str = ""

    @property
    def route_path(self) -> str:
        path = self.path
        for p in self.params:
            path = path.replace("{" + p.name + "}", "{" + p.name + ":" + p.pattern + "}")
        return path


def endpoint(method: str, path: str, **spec: Any) -> Callable[[_F], _F]:
    """Declare the decorated handler as ``method path`` (see ``Endpoint``)."""

    def mark(fn: _F) -> _F:
        setattr(fn, _ATTR, Endpoint(method, path, name=fn.__name__, **spec))
        return fn

    return mark


def endpoints_of(cls: type) -> list[Endpoint]:
    """The endpoints declared on ``cls``, in their order of declaration."""
    found = []
    for value in vars(cls).values():
        ep = getattr(value, _ATTR, None)
        if isinstance(ep, Endpoint):
            found.append(ep)
    return found


def endpoint_of(handler: object) -> Endpoint | None:
    """The declaration behind a routed handler (None: a page, a static file)."""
    ep = getattr(handler, _ATTR, None)
    return ep if isinstance(ep, Endpoint) else None


def routes_of(area: object) -> list[web.RouteDef]:
    """aiohttp routes for the endpoints of ``area`` (an instance of an area class)."""
    out = []
    for ep in endpoints_of(type(area)):
        out.append(web.route(ep.method, ep.route_path, bind(ep, getattr(area, ep.name))))
    return out


def unavailable(endpoints: Sequence[Endpoint], why: str) -> list[web.RouteDef]:
    """The same routes, each answering 503 (a server without the side they need)."""

    async def no_service(_request: web.Request) -> web.StreamResponse:
        raise ApiError(503, why, code="unavailable")

    return [web.route(ep.method, ep.route_path, no_service) for ep in endpoints]


def bind(ep: Endpoint, handler: Callable[..., Awaitable[Any]]) -> Callable[..., Any]:
    # An area may check what the path names (an unknown agent: 404) before the body.
    prepare = getattr(getattr(handler, "__self__", None), "prepare", None)

    async def handle(request: web.Request) -> web.StreamResponse:
        if ep.method != "GET" and not ep.public and principal(request).read_only:
            raise ApiError(403, "an auditor reads and changes nothing")
        if ep.roles is not None:
            require_role(request, ep.roles)
        if prepare is not None:
            prepare(request, ep)
        kwargs: dict[str, Any] = {}
        if ep.query is not None:
            kwargs["query"] = parse_query(ep.query, request.query)
        elif request.query:
            refuse_query(request.query)
        if ep.method in BODY_METHODS and ep.parse_body:
            data = parse_object(await request.read())
            if ep.body is not None:
                kwargs["body"] = validate_body(ep.body, data)
                request[AUDIT_DETAIL] = kwargs["body"].model_dump(mode="json", by_alias=True)
            elif data:
                refuse_fields(data)
        result = await handler(request, **kwargs)
        if isinstance(result, web.StreamResponse):
            return result  # the websocket
        if isinstance(result, Reply):
            return json_response(dump(result.model), status=result.status, headers=result.headers)
        return json_response(dump(result), status=ep.status)

    handle.__name__ = ep.name
    handle.__doc__ = handler.__doc__
    setattr(handle, _ATTR, ep)  # the audit trail names the action by it
    return public(handle) if ep.public else handle


def dump(model: BaseModel) -> Any:
    return model.model_dump(mode="json", by_alias=True)


# -- bodies ------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object; an empty body is ``{}`` (actions whose fields are all
    optional may be posted without one). Not JSON, or not an object: a 400."""
    if not raw.strip():
        return {}
    try:
        # NaN and Infinity are Python's extension, not JSON.
        data = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(
            400, f"the body is not valid JSON: {str(exc).splitlines()[0][:120]}"
        ) from None
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply") from None
    if not isinstance(data, dict):
        raise ApiError(400, f"the body must be a JSON object, not {json_type(data)}")
    return data


def validate_body(model: type[BaseModel], data: Mapping[str, Any]) -> BaseModel:
    try:
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        raise as_api_error(exc, _names(model)) from None
    except RecursionError:
        raise ApiError(400, "the body is nested too deeply") from None


def refuse_fields(data: Mapping[str, Any]) -> None:
    unknown = sorted(data)
    raise invalid(unknown[0], f"unknown field {', '.join(unknown)} (known: none)")


# -- queries -----------------------------------------------------------------------------


@cache
def _names(model: type[BaseModel]) -> tuple[str, ...]:
    return tuple(f.alias or name for name, f in model.model_fields.items())


@cache
def _repeatable(model: type[BaseModel]) -> frozenset[str]:
    """The parameters that take several values (an array in the schema)."""
    props = model.model_json_schema()["properties"]
    return frozenset(k for k, v in props.items() if v.get("type") == "array")


def refuse_query(query: MultiMapping[str]) -> None:
    unknown = sorted(set(query.keys()))
    raise invalid(unknown[0], f"unknown parameter {', '.join(unknown)} (known: none)")


def parse_query(model: type[BaseModel], query: MultiMapping[str]) -> BaseModel:
    """A query string as ``model``: a repeatable parameter may be repeated or
    comma-separated (``?status=a,b``); any other is given once at most."""
    repeatable = _repeatable(model)
    data: dict[str, Any] = {}
    for name in dict.fromkeys(query.keys()):
        values = query.getall(name)
        if name in repeatable:
            data[name] = [part.strip() for v in values for part in v.split(",")]
        elif len(values) > 1:
            raise invalid(name, "given more than once")
        else:
            data[name] = values[0]
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise as_api_error(exc, _names(model), what="parameter") from None
