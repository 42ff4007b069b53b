"""What a period's figures must say beside the numbers: the definitions they were
classified with (and whether they mix), and whether the record of the period is
complete, naming every interval no source covered."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from callcenter.coverage import query_coverage
from callcenter.metrics.definitions import definitions_doc
from callcenter.metrics.query import query_definitions
from callcenter.metrics.settings import MetricsConfig
from callcenter.pbxrecord.reconcile import day_bounds
from callcenter.schedule.settings import ServiceConfig


def period_record(
    engine: Engine,
    service: ServiceConfig,
    metrics: MetricsConfig,
    day_from: str,
    day_to: str,
    queue: str | None = None,
    server_id: str | None = None,
) -> dict[str, Any]:
    tz = ZoneInfo(service.timezone)
    start, _ = day_bounds(date.fromisoformat(day_from), tz)
    end, _ = day_bounds(date.fromisoformat(day_to), tz)
    stored = query_definitions(engine, metrics, day_from, day_to, queue=queue, server_id=server_id)
    servers = query_coverage(engine, start, end, server_id=server_id)
    return {
        "definitions": definitions_doc(metrics, stored),
        "coverage": {
            "complete": all(s.complete for s in servers) and bool(servers),
            "servers": [s.to_dict() for s in servers],
            "note": (
                ""
                if servers
                else "no coverage recorded for this period (no daemon ran, or a database "
                "from before coverage was kept)"
            ),
        },
    }


def period_record_text(record: dict[str, Any]) -> list[str]:
    d = record["definitions"]
    f = d["in_force"]
    lines = [
        f"Definitions: one-ring under {f['short_abandon_seconds']:g} s, service level "
        f"within {f['service_level_seconds']:g} s"
    ]
    if d["mixed"]:
        lines.append(f"  MIXED: {d['note']}")
    cov = record["coverage"]
    if cov["complete"]:
        lines.append("Coverage: complete (every moment seen through AMI or the PBX record)")
    else:
        lines.append("Coverage: INCOMPLETE" + (f" ({cov['note']})" if cov["note"] else ""))
        for s in cov["servers"]:
            for g in s["uncovered"]:
                lines.append(f"  {s['server']}: no source covered {g['from']} .. {g['to']}")
    return lines
