"""The monthly report made on the first operating day, kept, mailed through a real local
SMTP server (aiosmtpd) and announced as a webhook: each once, a failed mail retried."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import Engine, select

from callcenter.incidents.figures import IncidentTargets
from callcenter.metrics import query_figures
from callcenter.reports.archive import MONTHLY
from callcenter.reports.delivery import ReportDelivery, due_period, first_operating_day
from callcenter.reports.forms import MonthlyForms
from callcenter.reports.settings import ReportsConfig
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.db import make_engine, migrate
from callcenter.store.models import WebhookOutbox
from callcenter.webhooks.settings import WebhookSettings
from tests.support.net import free_port
from tests.unit.metrics.records import CFG, abandoned, answered, load, short

TZ = ZoneInfo("Asia/Tokyo")
CAL = BusinessCalendar.from_config(ServiceConfig())
NOV = datetime(2026, 11, 2, 10, 0, tzinfo=TZ).timestamp()


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=TZ)


def test_the_first_operating_day_skips_the_holidays_and_the_year_end() -> None:
    assert first_operating_day(2026, 12, CAL).isoformat() == "2026-12-01"  # type: ignore[union-attr]
    # 1-3 January: the year-end closure, then a weekend: Monday the 4th.
    assert first_operating_day(2027, 1, CAL).isoformat() == "2027-01-04"  # type: ignore[union-attr]
    # 2026-11-01 is a Sunday, 2026-11-03 Culture Day: Monday the 2nd.
    assert first_operating_day(2026, 11, CAL).isoformat() == "2026-11-02"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("now", "due"),
    [
        (jst(2026, 12, 1, 8, 59), "2026-10"),
        (jst(2026, 12, 1, 9, 0), "2026-11"),
        (jst(2026, 12, 31, 23, 0), "2026-11"),
        (jst(2027, 1, 2, 12, 0), "2026-11"),  # the year-end closure: December's waits
        (jst(2027, 1, 4, 9, 0), "2026-12"),
        (jst(2027, 1, 4, 0, 30).astimezone(ZoneInfo("UTC")), "2026-11"),  # 3 Jan 15:30 UTC
    ],
)
def test_the_due_month(now: datetime, due: str) -> None:
    assert due_period(now, CAL, time(9, 0)) == due


# -- a real SMTP server ----------------------------------------------------------------


@dataclass
class Inbox:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        raw = envelope.original_content or envelope.content
        self.messages.append(message_from_bytes(raw, policy=policy.default))
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 OK"


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(e)
    load(
        e,
        [
            answered(10, arrived=NOV),
            answered(40, arrived=NOV + 60, busy=True),
            abandoned(30, arrived=NOV + 120),
            short(arrived=NOV + 180),
        ],
    )
    return e


def delivery(
    engine: Engine, port: int, *, now: datetime, server: str = "lab", **settings: Any
) -> ReportDelivery:
    cfg = ReportsConfig(
        mail_to=("sla@example.jp", "desk@example.jp"),
        smtp_port=port,
        smtp_timeout=5.0,
        formats=("html", "csv", "json"),
        **settings,
    )
    forms = MonthlyForms(engine, ServiceConfig(), CFG, IncidentTargets(), lambda: now)
    return ReportDelivery(
        engine,
        cfg,
        CAL,
        server,
        forms.render,
        forms.summarize,
        webhooks=WebhookSettings(
            urls=("http://127.0.0.1:9/hook",), secret="s" * 32, events=("report.monthly",)
        ),
        clock=lambda: now,
    )


def test_made_once_mailed_once_with_every_form(engine: Engine, inbox: Inbox) -> None:
    now = jst(2026, 12, 1, 9, 0)
    d = delivery(engine, inbox.port, now=now, webhook=True)
    assert d.tick() == "2026-11"
    assert d.tick() is None  # made already: nothing again
    assert len(inbox.messages) == 1
    msg = inbox.messages[0]
    assert msg["Subject"] == "月次運用報告書 2026-11"
    assert inbox.envelopes[0][1] == ["sla@example.jp", "desk@example.jp"]
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None
    assert "放棄率" in body.get_content()
    files = {
        str(part.get_filename()): part.get_payload(decode=True) for part in msg.iter_attachments()
    }
    assert sorted(files) == [
        "monthly-report-2026-11-ja.csv",
        "monthly-report-2026-11-ja.html",
        "monthly-report-2026-11-ja.json",
    ]
    assert files["monthly-report-2026-11-ja.csv"].startswith("\ufeff".encode())  # type: ignore[union-attr]
    # The figures are those of `callcenter metrics` for the month, exactly.
    doc = json.loads(files["monthly-report-2026-11-ja.json"])  # type: ignore[arg-type]
    fig = query_figures(engine, CFG, "2026-11-01", "2026-12-01")
    assert doc["calls"]["total_incoming"] == fig.total_incoming == 3
    assert doc["calls"]["abandonment_rate"] == fig.abandonment_rate
    # Stored, as sent.
    stored = d.archive.content(MONTHLY, "2026-11", "json", "ja")
    assert stored == files["monthly-report-2026-11-ja.json"]
    # Announced once, through the outbox.
    with engine.connect() as conn:
        events = conn.execute(select(WebhookOutbox.event, WebhookOutbox.body)).all()
    assert [e for e, _ in events] == ["report.monthly"]
    payload = json.loads(events[0][1])["data"]
    assert (payload["period"], payload["calls"]["total_incoming"]) == ("2026-11", 3)
    assert payload["calls"]["abandonment_rate"] == fig.abandonment_rate


def test_a_mail_server_that_is_down_is_tried_again(engine: Engine, inbox: Inbox) -> None:
    now = jst(2026, 12, 1, 9, 0)
    down = delivery(engine, free_port(), now=now)
    assert down.tick() == "2026-11"
    run = down.archive.run(MONTHLY, "2026-11")
    assert run is not None
    assert run.mailed_at is None
    assert run.mail_error is not None
    assert "Connection" in run.mail_error
    up = delivery(engine, inbox.port, now=jst(2026, 12, 1, 10, 0))
    assert up.tick() is None  # not made again
    assert len(inbox.messages) == 1
    run = up.archive.run(MONTHLY, "2026-11")
    assert run is not None
    assert run.mailed_at is not None
    assert run.mail_error is None


def test_two_daemons_on_one_database_make_and_send_it_once(engine: Engine, inbox: Inbox) -> None:
    now = jst(2026, 12, 1, 9, 0)
    a = delivery(engine, inbox.port, now=now, server="pbx-a")
    b = delivery(engine, inbox.port, now=now, server="pbx-b")
    assert [a.tick(), b.tick()] == ["2026-11", None]
    assert len(inbox.messages) == 1
    run = a.archive.run(MONTHLY, "2026-11")
    assert run is not None
    assert run.made_by == "pbx-a"


def test_old_reports_are_pruned_after_keep_months(engine: Engine, inbox: Inbox) -> None:
    d = delivery(engine, inbox.port, now=jst(2026, 12, 1, 9, 0), keep_months=2)
    for period in ("2026-08", "2026-09", "2026-10"):
        d.archive.save(MONTHLY, period, "csv", "ja", b"x", jst(2026, 11, 1))
    d.tick()
    assert sorted({f.period for f in d.archive.forms(MONTHLY)}) == ["2026-10", "2026-11"]
