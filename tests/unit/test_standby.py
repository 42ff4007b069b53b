"""The active/standby role (callcenter.standby): one daemon of a PBX holds the lease and
acts; another takes over once it runs out; a daemon that lost it stands down; what a
standby held is handed over once, and only what is recent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from callcenter.cluster.settings import ClusterSettings
from callcenter.standby import HOLD_SECONDS, ActiveRole
from callcenter.store.db import make_engine, migrate
from callcenter.telephony.facts import SurveyAnswered
from tests.unit.metrics.records import answered

ON = ClusterSettings(standby=True, failover_seconds=3.0)


class Clock:
    def __init__(self) -> None:
        self.t = 1_800_000_000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'r.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


async def test_without_standby_every_daemon_acts(engine: Engine) -> None:
    role = ActiveRole(engine, "lab", ClusterSettings())
    assert role.active
    assert await role.claim()


async def test_one_acts_the_other_takes_over_when_the_lease_runs_out(engine: Engine) -> None:
    clock = Clock()
    a = ActiveRole(engine, "lab", ON, holder="a", clock=clock)
    b = ActiveRole(engine, "lab", ON, holder="b", clock=clock)
    taken: list[str] = []

    async def took() -> None:
        taken.append("b")

    b.on_takeover = took
    assert await a.claim()
    assert not await b.claim()
    clock.t += 2.0
    assert await a.claim()  # renewed
    clock.t += 2.9
    assert not await b.claim()  # a's renewal still runs
    clock.t += 0.2  # a is gone: its lease ran out
    assert await b.claim()
    assert taken == ["b"]
    assert b.took_over_at == clock.t
    # a comes back (it was only cut off): the lease is b's, so a stands down.
    assert not await a.claim()
    assert not a.active
    # Another PBX's daemons have their own lease.
    assert await ActiveRole(engine, "pbx2", ON, holder="c", clock=clock).claim()


async def test_what_a_standby_held_is_handed_over_once_and_only_the_recent(
    engine: Engine,
) -> None:
    clock = Clock()
    role = ActiveRole(engine, "lab", ON, holder="b", clock=clock)
    old = answered(10.0, arrived=clock.t - HOLD_SECONDS - 100)
    new = answered(10.0, arrived=clock.t - 30)
    for call in (old, new):
        role.hold_answered(call)
        role.hold_finished(call)
    role.hold_survey(SurveyAnswered("lab", new.linkedid, "0311112222", 5, clock.t - 5))
    finished, answered_calls, surveys = role.take_held()
    assert [c.linkedid for c in finished] == [new.linkedid]
    assert [c.linkedid for c in answered_calls] == [new.linkedid]
    assert len(surveys) == 1
    assert role.take_held() == ([], [], [])
