"""[incidents]: incidents opened from answered calls, and the contract's targets."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from callcenter.settings_base import Hint, Prompt, Settings

Minutes = Annotated[float, Field(gt=0)]


class IncidentsConfig(Settings):
    """Incidents opened from answered calls and the contract's incident targets."""

    enabled: bool = True  # every answered call opens an incident
    # A caller with an open incident received within this many hours gets the new one
    # linked to it (related_incident_id).
    repeat_window_hours: Annotated[
        float, Field(ge=0, le=24 * 90), Hint("between 0 (off) and 2160 (90 days)")
    ] = 24.0
    # The post-call survey (queues with survey = true): 1 (不満) .. 5 (満足).
    survey_prompt: Prompt = "beep"  # sound file(s) asking for the key, '&'-joined
    survey_timeout: Annotated[  # seconds to wait for the key
        int, Field(ge=1, le=30), Hint("between 1 and 30 seconds")
    ] = 5
    # Targets (SPEC.md section 3): met when the figure is at least / at most this.
    first_contact_resolution_target: Annotated[
        float, Field(ge=0, le=1), Hint("a fraction (0.90 for 90%)")
    ] = 0.90
    handling_minutes_target: Minutes = 30.0
    escalation_minutes_target: Minutes = 10.0
    progress_report_minutes_target: Minutes = 30.0
    satisfaction_target: Annotated[float, Field(ge=0, le=100), Hint("between 0 and 100")] = 75.0
    # The second line posts its answers signed with this secret (HMAC, docs/webhooks.md).
    second_line_secret_env: str = "CALLCENTER_SECOND_LINE_SECRET"  # noqa: S105
