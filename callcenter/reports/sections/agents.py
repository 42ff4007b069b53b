"""Agent activity in the monthly report: per agent, the month's login time, pause time
(and by reason), talk, wrap-up, calls answered and occupancy, from the agent events
(``callcenter.agents.record``), the same figures as ``GET /api/v1/activity``."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from callcenter.agents.activity import AgentDay
from callcenter.agents.record import activity_by_agent
from callcenter.reports.model import (
    Chart,
    Column,
    ReportContext,
    Section,
    SectionProvider,
    Series,
    Table,
)


def _month_totals(days: list[AgentDay]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for d in days:
        t = out.setdefault(
            d.agent, {"login": 0.0, "pause": 0.0, "talk": 0.0, "wrapup": 0.0, "calls": 0.0}
        )
        t["login"] += d.login_seconds
        t["pause"] += d.pause_seconds
        t["talk"] += d.talk_seconds
        t["wrapup"] += d.wrapup_seconds
        t["calls"] += d.calls
    return out


def _reasons(days: list[AgentDay]) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for d in days:
        for reason, seconds in d.pause_by_reason.items():
            out[(d.agent, reason)] = out.get((d.agent, reason), 0.0) + seconds
    return out


def agent_activity_section(
    ctx: ReportContext, server_id: str, wrapup: dict[str, float]
) -> Section | None:
    tz = ZoneInfo(ctx.service.timezone)
    days = activity_by_agent(
        ctx.engine,
        server_id,
        tz,
        date.fromisoformat(ctx.day_from),
        date.fromisoformat(ctx.day_to),
        wrapup=wrapup,
        now=ctx.now,
    )
    if not days:
        return None
    totals = _month_totals(days)
    rows = []
    for agent, t in sorted(totals.items()):
        available = t["login"] - t["pause"]
        occupancy = (t["talk"] + t["wrapup"]) / available if available > 0 else None
        rows.append(
            (agent, t["login"] / 60, t["pause"] / 60, t["talk"] / 60, t["wrapup"] / 60,
             int(t["calls"]), occupancy)
        )  # fmt: skip
    table = Table(
        key="agent_activity",
        title=("オペレーター稼働", "Agent activity"),
        columns=(
            Column("agent", ("オペレーター", "Agent"), "text"),
            Column("login", ("ログイン時間", "Logged in"), "minutes"),
            Column("pause", ("離席時間", "Paused"), "minutes"),
            Column("talk", ("通話時間", "Talking"), "minutes"),
            Column("wrapup", ("後処理時間", "Wrap-up"), "minutes"),
            Column("calls", ("応答数", "Calls answered"), "count"),
            Column("occupancy", ("稼働率", "Occupancy"), "rate"),
        ),
        rows=tuple(rows),
        note=(
            "稼働率 =（通話 + 後処理）÷（ログイン − 離席）",
            "Occupancy = (talk + wrap-up) / (logged in - paused)",
        ),
    )
    reasons = Table(
        key="pause_reasons",
        title=("離席理由別の時間", "Pause time by reason"),
        columns=(
            Column("agent", ("オペレーター", "Agent"), "text"),
            Column("reason", ("理由", "Reason"), "text"),
            Column("pause", ("離席時間", "Paused"), "minutes"),
        ),
        rows=tuple(
            (agent, reason or "-", seconds / 60)
            for (agent, reason), seconds in sorted(_reasons(days).items())
        ),
    )
    chart = Chart(
        key="agent_occupancy",
        title=("オペレーター別稼働率", "Occupancy by agent"),
        kind="column",
        categories=tuple(r[0] for r in rows),
        series=(Series(("稼働率", "Occupancy"), tuple(r[6] for r in rows)),),
        y_kind="rate",
    )
    return Section(
        key="agent_activity",
        title=("オペレーター稼働", "Agent activity"),
        tables=(table, reasons),
        charts=(chart,),
    )


def agent_activity(server_id: str, wrapup: dict[str, float]) -> SectionProvider:
    return SectionProvider(
        "agent_activity", lambda ctx: agent_activity_section(ctx, server_id, wrapup)
    )
