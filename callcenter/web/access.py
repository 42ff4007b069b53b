"""The HTTP access log: one ``http.access`` line per request, through the ``aiohttp.access``
logger (so through structlog's formatter, callcenter.logging).

Only the path is logged, never the query string (a page or a websocket may carry a token
in it) and never a header (``Authorization``, the session cookie): secrets never reach
the log."""

from __future__ import annotations

import logging

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web_request import BaseRequest
from aiohttp.web_response import StreamResponse

ACCESS_LOGGER = logging.getLogger("aiohttp.access")


class AccessLog(AbstractAccessLogger):
    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        self.logger.info(
            "http.access",
            extra={
                "method": request.method,
                "path": request.path,  # decoded, without the query string
                "status": response.status,
                "bytes": response.body_length,
                "duration_ms": round(time * 1000, 1),
                "remote": request.remote,
            },
        )

    @property
    def enabled(self) -> bool:
        # aiohttp skips timing the request when nobody would read the line.
        return self.logger.isEnabledFor(logging.INFO)
