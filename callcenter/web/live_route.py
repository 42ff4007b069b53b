"""GET /api/v1/live, the websocket, declared as every other route (its handler is the
``LiveHub``'s)."""

from __future__ import annotations

from aiohttp import web

from callcenter.web.api import PREFIX, endpoint
from callcenter.web.live import LIVE_PER_TOKEN, LiveHub

LIVE_PATH = f"{PREFIX}/live"

_DESCRIPTION = (
    "Any authenticated principal. Authenticate with Authorization: Bearer, or (the pages) "
    "the login session's cookie; never a token in the URL. Connections whose token is "
    "revoked or whose session ends are closed with 4401. Text frames, JSON, numbered per "
    'connection from 1 without gaps: first {"type": "snapshot", "seq", "at", "data": '
    "{queues, agents, parked, today, service_mode}} (the REST shapes: queues as GET "
    "/queues' list, today as GET /metrics/today, service_mode as GET /service-mode); then "
    '{"type": "delta", "seq", "at", "changes": [...]}: only what changed since the message '
    "before (the changes of one burst in one message), to apply in order. Each change "
    "addresses an item by a path of keys, never by an index: a queue by its name, a waiting "
    "caller by its uniqueid within its queue (queues/<name>/waiting/<uniqueid>), a member by "
    "its agent_id (~<name> without one), an agent by its id, a parked call by its slot; "
    "today's all, coverage and by_queue/<queue>; a queue's today; service_mode whole. "
    '{"op": "set", "path", "value"}: the item is value (a new key is appended to its list); '
    '{"op": "merge", "path", "value"}: the item takes value\'s fields; {"op": "remove", '
    '"path"}: the item and all under it go; {"op": "order", "path", "keys"}: a list\'s keys '
    "in order (a new list, or keys that moved). A waiting caller's position is its place in "
    "its list, from 1 (not sent). A list not of the expected shape goes whole at its path. "
    "Elapsed seconds are as of at (count on from there); a change of them alone is not "
    "sent, and an item sent carries all of its own as of at (a merge: each field holding "
    'one). On a seq gap, send {"type": "snapshot"}. A client too slow to keep up is sent a '
    'fresh snapshot instead of what it missed. {"type": "incident", "data": incident} for an '
    "incident opened for the agent (supervisors and admins: every one). "
    'Send {"type": "snapshot"} to get a snapshot. Closed with 1001 when the server stops; '
    f"reconnect for a new snapshot. A token holds at most {LIVE_PER_TOKEN} connections at "
    "once (its sessions' and its bearer ones together): one more is refused with 429."
)


class LiveRoutes:
    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub

    @endpoint(
        "GET",
        LIVE_PATH,
        summary="Websocket: the queues, agents, parked calls, today's figures and the "
        "service mode, pushed as they change",
        tag="live",
        description=_DESCRIPTION,
        public=True,
        security=({"bearer": []}, {"session": []}),
        raw_responses={"101": {"description": "Switching Protocols: the websocket"}},
        errors={
            400: "not a websocket handshake (Upgrade: websocket)",
            401: "no valid bearer token or session",
            403: "a session from another origin",
            429: f"the token holds {LIVE_PER_TOKEN} live connections already (Retry-After)",
            503: "no PBX connection, or the server is shutting down",
        },
    )
    async def live(self, request: web.Request) -> web.StreamResponse:
        return await self.hub.handler(request)
