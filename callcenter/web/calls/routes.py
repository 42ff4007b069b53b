"""GET /calls, /parked and /transfer-targets: the calls in progress, the parked ones,
and where an agent may transfer a caller."""

from __future__ import annotations

import time

from aiohttp import web

from callcenter.web.api import PREFIX, endpoint
from callcenter.web.calls.models import Calls, ParkedList, TransferTarget, TransferTargets
from callcenter.web.pbxside import UNAVAILABLE, PbxArea
from callcenter.web.views import calls_view, parked_view


class CallRoutes(PbxArea):
    @endpoint(
        "GET",
        f"{PREFIX}/calls",
        summary="The calls in progress, one per call (Linkedid)",
        tag="calls",
        ok=Calls,
        errors=UNAVAILABLE,
    )
    async def list_calls(self, request: web.Request) -> Calls:
        return Calls.model_validate({"calls": calls_view(self.pbx, time.time())})

    @endpoint(
        "GET",
        f"{PREFIX}/parked",
        summary="The calls parked now, by slot",
        tag="calls",
        ok=ParkedList,
        errors=UNAVAILABLE,
    )
    async def list_parked(self, request: web.Request) -> ParkedList:
        return ParkedList.model_validate({"parked": parked_view(self.pbx, time.time())})

    @endpoint(
        "GET",
        f"{PREFIX}/transfer-targets",
        summary="The configured transfer targets (e.g. the second line)",
        tag="calls",
        ok=TransferTargets,
        errors=UNAVAILABLE,
    )
    async def transfer_targets(self, request: web.Request) -> TransferTargets:
        return TransferTargets(
            targets=[
                TransferTarget(name=t.name, number=t.number, label=t.label or t.name)
                for t in self.pbx.cfg.transfer_targets
            ]
        )
