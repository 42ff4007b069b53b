"""[incidents]: incidents opened from answered calls, and the contract's targets."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IncidentsConfig:
    """Incidents opened from answered calls and the contract's incident targets."""

    enabled: bool = True  # every answered call opens an incident
    # A caller with an open incident received within this many hours gets the new one
    # linked to it (related_incident_id).
    repeat_window_hours: float = 24.0
    # The post-call survey (queues with survey = true): 1 (不満) .. 5 (満足).
    survey_prompt: str = "beep"  # sound file(s) asking for the key, '&'-joined
    survey_timeout: int = 5  # seconds to wait for the key
    # Targets (SPEC.md section 3): met when the figure is at least / at most this.
    first_contact_resolution_target: float = 0.90
    handling_minutes_target: float = 30.0
    escalation_minutes_target: float = 10.0
    progress_report_minutes_target: float = 30.0
    satisfaction_target: float = 75.0
    # The second line posts its answers signed with this secret (HMAC, docs/webhooks.md).
    second_line_secret_env: str = "CALLCENTER_SECOND_LINE_SECRET"  # noqa: S105

    def problems(self, prefix: str = "incidents") -> list[str]:
        out: list[str] = []
        if not 0 <= self.repeat_window_hours <= 24 * 90:
            out.append(f"{prefix}.repeat_window_hours: between 0 (off) and 2160 (90 days)")
        if not 1 <= self.survey_timeout <= 30:
            out.append(f"{prefix}.survey_timeout: between 1 and 30 seconds")
        if not 0 <= self.first_contact_resolution_target <= 1:
            out.append(f"{prefix}.first_contact_resolution_target: a fraction (0.90 for 90%)")
        for k in ("handling_minutes_target", "escalation_minutes_target",
                  "progress_report_minutes_target"):  # fmt: skip
            if getattr(self, k) <= 0:
                out.append(f"{prefix}.{k}: must be greater than 0")
        if not 0 <= self.satisfaction_target <= 100:
            out.append(f"{prefix}.satisfaction_target: between 0 and 100")
        return out
