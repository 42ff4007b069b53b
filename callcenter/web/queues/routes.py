"""GET /queues and /queues/{name}: waiting callers, members, today's figures."""

from __future__ import annotations

from aiohttp import web

from callcenter.web.api import PREFIX, endpoint
from callcenter.web.errors import ApiError
from callcenter.web.pbxside import QUEUE_NAME, UNAVAILABLE, PbxArea
from callcenter.web.queues.models import OneQueue, Queues
from callcenter.web.views import queue_view


class QueueRoutes(PbxArea):
    @endpoint(
        "GET",
        f"{PREFIX}/queues",
        summary="Every configured queue: waiting callers, members, today's figures",
        tag="queues",
        ok=Queues,
        errors=UNAVAILABLE,
    )
    async def list_queues(self, request: web.Request) -> Queues:
        scene = self.scene()
        return Queues.model_validate({"queues": [queue_view(scene, q) for q in self.queues]})

    @endpoint(
        "GET",
        f"{PREFIX}/queues/{{name}}",
        summary="One queue",
        tag="queues",
        params=(QUEUE_NAME,),
        ok=OneQueue,
        errors={404: "no such queue", **UNAVAILABLE},
    )
    async def get_queue(self, request: web.Request) -> OneQueue:
        name = request.match_info["name"]
        if name not in self.queues:
            raise ApiError(404, f"unknown queue {name!r}")
        return OneQueue.model_validate({"queue": queue_view(self.scene(), name)})
