"""The service mode: read it; override it (an emergency close, or open) until a time;
end the override. Kept in the PBX's AstDB, so it outlives a daemon restart."""

from __future__ import annotations

from aiohttp import web

from callcenter.ami import AMIError, AMIInjectionError
from callcenter.schedule.mode import NOTE_MAX, ModeKeeper
from callcenter.web.api import PREFIX, endpoint
from callcenter.web.auth import STAFF, principal
from callcenter.web.errors import ApiError, invalid
from callcenter.web.pbxside import UNAVAILABLE, PbxArea
from callcenter.web.service_mode.models import ServiceMode, SetMode
from callcenter.web.views import mode_view

_PATH = f"{PREFIX}/service-mode"
_ERRORS = {
    409: "this daemon does not manage the service mode",
    502: "the PBX did not take it",
    **UNAVAILABLE,
}


class ServiceModeRoutes(PbxArea):
    def _mode(self) -> ServiceMode:
        return ServiceMode.model_validate(mode_view(self.pbx))

    def _keeper(self) -> ModeKeeper:
        keeper = self.pbx.service_mode
        if keeper is None:
            raise ApiError(
                409,
                "this daemon does not manage the service mode (service.manage_mode = false)",
            )
        return keeper

    @endpoint(
        "GET",
        _PATH,
        summary="The service mode (open/closed), why, until when, any override",
        tag="service-mode",
        ok=ServiceMode,
        errors=UNAVAILABLE,
    )
    async def get_mode(self, request: web.Request) -> ServiceMode:
        return self._mode()

    @endpoint(
        "PUT",
        _PATH,
        summary="Override the mode (emergency close, or open) until a time",
        tag="service-mode",
        description="Kept in the PBX's AstDB (outlives a daemon restart); until defaults "
        "to the calendar's next change. The note is stored with the caller's name.",
        roles=STAFF,
        body=SetMode,
        body_required=True,
        ok=ServiceMode,
        errors=_ERRORS,
    )
    async def set_mode(self, request: web.Request, body: SetMode) -> ServiceMode:
        keeper = self._keeper()
        who = principal(request)
        # Who did it goes with the note into AstDB, where `callcenter mode status` shows it.
        note = body.note or ""
        note = f"{who.actor}: {note}" if note.strip() else who.actor
        try:
            await keeper.override(body.mode, body.until, note[:NOTE_MAX])
        except AMIInjectionError:
            raise  # text of ours that AMI cannot carry, not the client's: a 500, logged
        except ValueError as exc:
            # The keeper's refusals start with the field: "mode: ...", "until: ...", "note: ...".
            field, _, message = str(exc).partition(": ")
            if field in SetMode.model_fields:
                raise invalid(field, message) from None
            raise ApiError(422, str(exc)) from None  # which field, unknown: none named
        except (AMIError, OSError) as exc:
            raise ApiError(
                502, f"the PBX did not take the override: {exc}", code="pbx_error"
            ) from None
        self.log(request, "service_mode_override", None, mode=body.mode)
        self.changed()
        return self._mode()

    @endpoint(
        "DELETE",
        f"{_PATH}/override",
        summary="End the override: back to the calendar",
        tag="service-mode",
        roles=STAFF,
        ok=ServiceMode,
        errors=_ERRORS,
    )
    async def clear_override(self, request: web.Request) -> ServiceMode:
        keeper = self._keeper()
        try:
            await keeper.clear_override()
        except (AMIError, OSError) as exc:
            raise ApiError(
                502, f"the PBX did not clear the override: {exc}", code="pbx_error"
            ) from None
        self.log(request, "service_mode_override_cleared", None)
        self.changed()
        return self._mode()
