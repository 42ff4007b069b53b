"""The second line's answer to an escalation: no bearer token, a signed request instead
(signed like our webhooks), accepted once."""

from __future__ import annotations

import structlog
from aiohttp import web

from callcenter.web.api import PREFIX, endpoint
from callcenter.web.api.endpoint import parse_object, validate_body
from callcenter.web.deps import ApiDeps
from callcenter.web.errors import ApiError
from callcenter.web.incidents.models import OneIncident, SecondLineAnswer
from callcenter.web.incidents.routes import INCIDENT_ID, store_call
from callcenter.webhooks.signing import SignatureError, verify

log = structlog.get_logger("callcenter.web")

SECOND_LINE_ACTOR = "second-line"
REPLAY_WINDOW = 600.0  # seconds: longer than the signatures' tolerance (300 s either way)


class SecondLineRoutes:
    def __init__(self, deps: ApiDeps) -> None:
        self.deps = deps
        self._seen_signatures: dict[str, float] = {}

    @endpoint(
        "POST",
        f"{PREFIX}/second-line/incidents/{{id}}/answer",
        summary="The second line's answer (signed, no bearer token)",
        tag="second-line",
        description="Signed like our webhooks: X-Callcenter-Timestamp (unix seconds) and "
        'X-Callcenter-Signature: v1=<hex HMAC-SHA256 of "timestamp.body"> with the shared '
        "second-line secret, within 300 s. The body must name the incident (incident_id, as "
        "in the URL: the signature does not cover the URL), and each signed request is "
        "accepted once (409 replayed). Recorded as escalation_answered by second-line.",
        public=True,
        security=({"secondLineSignature": []},),
        params=(INCIDENT_ID,),
        body=SecondLineAnswer,
        body_required=True,
        parse_body=False,
        ok=OneIncident,
        errors={
            401: "missing, wrong or expired signature",
            404: "no such incident, or the endpoint is disabled",
            409: "the incident is not escalated, or the request was replayed",
        },
    )
    async def second_line_answer(self, request: web.Request) -> OneIncident:
        secret = self.deps.second_line_secret
        if not secret:
            raise ApiError(404, "no such resource")  # as if the route did not exist
        raw = await request.read()
        now = self.deps.now()
        try:
            # The signature that verified, not the header: the header can be varied (",v1=00"
            # appended, spaces) and still verify, so only this value marks a replay.
            signature = verify(secret, request.headers, raw, now.timestamp())
        except SignatureError as exc:
            # The reason names a header or a mismatch, never the secret.
            log.warning("api.second_line_refused", path=request.path, reason=str(exc))
            raise ApiError(401, f"signature refused: {exc}") from None
        # The signature covers the body, not the URL: the body must name the incident, or
        # one signed answer could be replayed onto every other open escalation.
        data = parse_object(raw)
        incident_id = int(request.match_info["id"])
        named = data.get("incident_id")
        if type(named) is not int or named != incident_id:
            raise ApiError(
                422,
                f"incident_id: the signed body must name incident {incident_id}",
                code="invalid",
                field="incident_id",
            )
        body = validate_body(SecondLineAnswer, data)
        assert isinstance(body, SecondLineAnswer)
        if not self._first_use(signature, now.timestamp()):
            log.warning("api.second_line_replayed", path=request.path)
            raise ApiError(409, "this signed request was already used", code="replayed")
        incident = await store_call(
            self.deps.incidents.change,
            incident_id,
            "answer_escalation",
            SECOND_LINE_ACTOR,
            now,
            note=body.note,
        )
        log.info("api.second_line_answer", incident_id=incident.id)
        return OneIncident.of(incident)

    def _first_use(self, signature: str, now: float) -> bool:
        """False for a signature seen within the signatures' tolerance (a replay)."""
        seen = self._seen_signatures
        for old in [k for k, at in seen.items() if at < now - REPLAY_WINDOW]:
            del seen[old]
        if signature in seen:
            return False
        seen[signature] = now
        return True
