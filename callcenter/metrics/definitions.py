"""The definitions in force, and the ones the stored calls of a period were classified
with: a period that mixes them says so (docs/metrics.md, "Definitions")."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from callcenter.metrics.settings import MetricsConfig
from callcenter.store.calls import TABLE
from callcenter.telephony.calls import definitions_key, parse_definitions

C = TABLE.c


def definitions_of(m: MetricsConfig) -> str:
    return definitions_key(m.short_abandon_seconds, m.service_level_seconds)


def scan_definitions(
    engine: Engine,
    day_from: str,
    day_to: str,
    *,
    queue: str | None = None,
    server_id: str | None = None,
) -> dict[str, int]:
    """Calls of local days [from, to) by the definitions that classified them."""
    stmt = (
        select(C.definitions, func.count())
        .where(C.local_day >= day_from, C.local_day < day_to)
        .group_by(C.definitions)
    )
    if queue is not None:
        stmt = stmt.where(C.queue == queue)
    if server_id is not None:
        stmt = stmt.where(C.server_id == server_id)
    with engine.connect() as conn:
        return {(k or ""): int(n) for k, n in conn.execute(stmt)}


def definitions_doc(m: MetricsConfig, stored: dict[str, int]) -> dict[str, Any]:
    """What `metrics --json` and the monthly report state about the definitions."""
    current = definitions_of(m)
    used = [
        {
            "definitions": parse_definitions(k) if k else None,
            "calls": n,
            "current": k == current,
        }
        for k, n in sorted(stored.items(), key=lambda kv: -kv[1])
    ]
    mixed = len(stored) > 1
    older = sum(n for k, n in stored.items() if k != current)
    return {
        "in_force": {
            "short_abandon_seconds": m.short_abandon_seconds,
            "service_level_seconds": m.service_level_seconds,
            "abandonment_rate_target": m.abandonment_rate_target,
            "busy_rate_target": m.busy_rate_target,
            "service_level_target": m.service_level_target,
        },
        "classified_with": used,
        "mixed": mixed,
        "calls_classified_otherwise": older,
        "note": (
            f"{older} call(s) of this period were classified with other definitions; "
            "`callcenter calls rebuild` re-classifies them with the ones in force"
            if older
            else ""
        ),
    }
