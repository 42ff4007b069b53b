"""A month worked out by hand (November 2026, Asia/Tokyo, service hours Mon-Fri
08:30-18:15), stored in a real SQLite file.

Calls (queue, arrival, outcome, wait s, handle s):

    11-10 10:00 support answered  10  300      11-11 14:00 support answered 30 120
    11-10 10:10 support answered  20  180      11-11 14:05 support abandoned 8
    11-10 10:20 support answered  70  240 busy 11-11 14:10 billing abandoned 130
    11-10 10:30 support abandoned 45           11-11 20:00 -       after hours
    11-10 11:00 billing answered   5  600      10-31 and 12-01: one call each, not counted
    11-10 11:10 -       one-ring hang-up (3 s)

Month: 10 calls, 8 incoming (after hours and one-ring apart), 5 answered (1 busy),
3 abandoned; answer rate 5/8 = 62.5%, abandonment 3/8 = 37.5%, busy 1/8 = 12.5%, service
level (<= 20 s) 3/8 = 37.5%; ASA 135/5 = 27 s; AHT 1440/5 = 288 s; longest wait 130 s.
Abandoned by wait: [0, 10) 1, [30, 60) 1, [120, 300) 1.

Incidents: I1 (call 10:00, ネットワーク) resolved after 20 min on the first line; I2
(call 10:10, アカウント) escalated after 15 min (target 10: breached), progress reported
after 40 min (target 30: breached), answered after 60 min, resolved after 70 min:
handling 70 - 45 held = 25 min; I3 (call 11-11 14:00, ネットワーク) still open on
12-01 (its handling clock past 30 min: breached). FCR 1/3; handling (20 + 25) / 2 =
22.5 min; escalation 15 min; progress 40 min; satisfaction (100 + 80) / 2 = 90.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from callcenter.config import Config
from callcenter.incidents.model import SurveyResponse
from callcenter.incidents.store import IncidentStore
from callcenter.reports.actions import ImprovementActions
from callcenter.store.calls import write_calls
from callcenter.store.db import make_engine, migrate
from callcenter.store.settings import DatabaseConfig
from callcenter.telephony.callrows import call_row
from callcenter.telephony.calls import CallRecord, Outcome

TZ = ZoneInfo("Asia/Tokyo")
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=TZ)
MONTH = "2026-11"


def call(
    n: int,
    when: tuple[int, int, int, int],  # month, day, hour, minute
    outcome: Outcome,
    wait: float = 0.0,
    handle: float = 0.0,
    queue: str | None = "support",
    busy: bool = False,
) -> CallRecord:
    mon, day, hour, minute = when
    t = datetime(2026, mon, day, hour, minute, tzinfo=TZ).timestamp()
    rec = CallRecord(server_id="lab", linkedid=f"L{n}", arrived_at=t,
                     caller_num=f"03{n:08d}")  # fmt: skip
    if outcome is Outcome.SHORT_ABANDONED:
        rec.ended_at = t + 3
    elif outcome is Outcome.AFTER_HOURS:
        rec.after_hours = True
        rec.ended_at = t + 20
    else:
        rec.queue = queue
        rec.queued_at = t + 2
        if busy:
            rec.busy_at = t + 2 + 60
        if outcome is Outcome.ANSWERED:
            rec.answered_at = t + 2 + wait
            rec.ended_at = rec.answered_at + handle
            rec.agent = "Agent One"
            rec.agent_interface = "PJSIP/agent1"
        else:
            rec.ended_at = t + 2 + wait
    rec.outcome = outcome
    return rec


A, AB = Outcome.ANSWERED, Outcome.ABANDONED
CALLS = [
    call(1, (11, 10, 10, 0), A, 10, 300),
    call(2, (11, 10, 10, 10), A, 20, 180),
    call(3, (11, 10, 10, 20), A, 70, 240, busy=True),
    call(4, (11, 10, 10, 30), AB, 45),
    call(5, (11, 10, 11, 0), A, 5, 600, queue="billing"),
    call(6, (11, 10, 11, 10), Outcome.SHORT_ABANDONED, queue=None),
    call(7, (11, 11, 14, 0), A, 30, 120),
    call(8, (11, 11, 14, 5), AB, 8),
    call(9, (11, 11, 14, 10), AB, 130, queue="billing"),
    call(10, (11, 11, 20, 0), Outcome.AFTER_HOURS, queue=None),
    call(11, (10, 31, 10, 0), AB, 50),
    call(12, (12, 1, 10, 0), AB, 50),
]


@dataclass
class Month:
    engine: Engine
    cfg: Config
    conf: Path  # a config file naming the database, for the command


def fill(engine: Engine) -> None:
    """Stores the month's calls, incidents, survey and improvement actions."""
    write_calls(engine, [call_row(c, TZ) for c in CALLS])
    store = IncidentStore(engine)

    def opened(c: CallRecord, category: str) -> tuple[int, datetime]:
        assert c.answered_at is not None
        at = datetime.fromtimestamp(c.answered_at + 1, UTC)
        inc, _ = store.open_for_call(c, agent_id="agent1", at=at, repeat_window=timedelta(0))
        assert inc.id is not None
        store.change(inc.id, "update", "agent1", at, category=category)
        return inc.id, inc.received_at

    one, t1 = opened(CALLS[0], "ネットワーク")
    store.change(one, "resolve", "agent1", t1 + timedelta(minutes=20))
    two, t2 = opened(CALLS[1], "アカウント")
    store.change(two, "escalate", "agent1", t2 + timedelta(minutes=15), to="vendor")
    store.change(two, "report_progress", "agent1", t2 + timedelta(minutes=40), how="phone")
    store.change(two, "answer_escalation", "agent1", t2 + timedelta(minutes=60))
    store.change(two, "resolve", "agent1", t2 + timedelta(minutes=70))
    opened(CALLS[6], "ネットワーク")
    store.add_survey(SurveyResponse("0300000001", one, (5, 4), t1 + timedelta(hours=1)), "phone")
    actions = ImprovementActions(engine)
    actions.add(MONTH, "昼休みの応答体制を見直す", author="主任 佐藤", owner="運用チーム",
                body="12時台の放棄率が高い。交代で休憩を取り、2名を常駐させる。",
                at=NOW)  # fmt: skip
    actions.add("2026-10", "先月の施策", author="x", at=NOW)  # another month: not printed


@pytest.fixture
def month(tmp_path: Path) -> Month:
    cfg = Config(database=DatabaseConfig(url=f"sqlite:///{tmp_path / 'cc.db'}"), base_dir=tmp_path)
    engine = make_engine(cfg.database_url())
    migrate(engine)
    fill(engine)
    conf = tmp_path / "cc.toml"
    conf.write_text(f'[database]\nurl = "{cfg.database.url}"\n', encoding="utf-8")
    return Month(engine, cfg, conf)
