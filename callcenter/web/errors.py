"""Every HTTP error as JSON: ``{"error": {"code", "message", "field"?}}`` (DESIGN: Contracts).

Handlers raise ``ApiError``; aiohttp's own errors (no such route, wrong method, body too
large) are turned into the same shape here, so a client parses one format whatever went
wrong. An unexpected exception is a 500 whose body says only that it happened and a
reference: the details (which may quote data or configuration) go to the log alone.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from functools import partial
from typing import Any

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

log = structlog.get_logger("callcenter.web")

# Every body this API takes is a few fields of text: far below aiohttp's 1 MiB default.
MAX_BODY_BYTES = 64 * 1024

# ensure_ascii=False: callers' names and notes are Japanese; keep them readable.
dumps = partial(json.dumps, ensure_ascii=False)

CODES: Mapping[int, str] = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    500: "internal",
}


class ApiError(Exception):
    """An error answered as JSON; ``field`` names the offending input, when there is one."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or CODES.get(status, "error")
        self.message = message
        self.field = field
        self.headers = dict(headers or {})


def invalid(field: str, message: str) -> ApiError:
    """A 422 naming the field; the message starts with the field, as IncidentError's do."""
    return ApiError(422, f"{field}: {message}", field=field)


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> web.Response:
    return web.json_response(data, status=status, headers=headers, dumps=dumps)


def error_response(err: ApiError) -> web.Response:
    body: dict[str, Any] = {"code": err.code, "message": err.message}
    if err.field is not None:
        body["field"] = err.field
    return json_response({"error": body}, status=err.status, headers=err.headers)


def _from_http(exc: web.HTTPException, request: web.Request) -> ApiError:
    status = exc.status
    headers: dict[str, str] = {}
    if status == 404:
        message = "no such resource"
    elif status == 405:
        allowed = exc.headers.get("Allow", "")
        headers["Allow"] = allowed
        message = f"{request.method} is not allowed here (allowed: {allowed})"
    elif status == 413:
        message = f"request body too large: at most {MAX_BODY_BYTES} bytes"
    else:
        # aiohttp's reasons are fixed texts ("Bad Request"), never request data.
        message = exc.reason
    return ApiError(status, message, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as err:
        if err.status >= 500:
            log.error("api.failed", method=request.method, path=request.path, code=err.code)
        return error_response(err)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # a redirect or an empty success is not an error
        return error_response(_from_http(exc, request))
    except Exception:
        # The reference ties the client's report to the log entry with the traceback.
        ref = secrets.token_hex(4)
        log.exception("api.internal_error", method=request.method, path=request.path, ref=ref)
        return error_response(
            ApiError(500, f"internal error (ref {ref}); the details are in the server log")
        )
