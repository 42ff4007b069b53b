"""The follow-up in the monthly report: of the callers put on the list in the month
(abandoned, after hours, voicemail, callback asked), how many were reached, how (a
call-back, or they called again and were answered), and how soon: the recall figures
of ``callcenter.followups`` (``GET /api/v1/followups/recall``)."""

from __future__ import annotations

from callcenter.followups.store import FollowupStore
from callcenter.reports.i18n import Kind, Measured
from callcenter.reports.model import Column, ReportContext, Section, SectionProvider, Table


def followup_section(ctx: ReportContext) -> Section | None:
    r = FollowupStore(ctx.engine).recall(ctx.start, ctx.end)
    if not r.opened:
        return None
    rows: tuple[tuple[tuple[str, str], Kind, float | None], ...] = (
        (("リスト入りした発信者", "Callers put on the list"), "count", r.opened),
        (("連絡できた", "Reached"), "count", r.reached),
        (("うちコールバックで", "of which by a call-back"), "count", r.by_callback),
        (("うち再着信に応答して", "of which when they called again"), "count", r.by_call_again),
        (("番号違い", "Wrong number"), "count", r.wrong_number),
        (("未連絡", "Not reached yet"), "count", r.still_open),
        (("連絡率", "Share reached"), "rate", r.share_reached),
        (("連絡までの平均時間", "Mean time to reach"), "minutes",
         None if r.mean_seconds_to_reach is None else r.mean_seconds_to_reach / 60),
    )  # fmt: skip
    table = Table(
        key="followups",
        title=("フォローアップ（折り返し）", "Follow-up (call-backs)"),
        columns=(
            Column("figure", ("項目", "Figure"), "text"),
            Column("value", ("値", "Value"), "text"),
        ),
        # Numbers with their kind, not text: Excel sums them and formats them as % and 分.
        rows=tuple((label, Measured(value, kind)) for label, kind, value in rows),
        note=(
            "放棄（ワンコール切りを除く）、時間外、留守番電話、コールバック依頼の発信者。",
            "Callers who abandoned (not one-ring hang-ups), called after hours, left a "
            "voicemail or asked for a callback.",
        ),
    )
    return Section(key="followups", title=table.title, tables=(table,))


FOLLOWUPS = SectionProvider("followups", followup_section)
