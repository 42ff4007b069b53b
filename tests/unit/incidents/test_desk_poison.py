"""The incident desk: a job that fails unexpectedly is quarantined and the next one runs;
what it keeps of opened incidents is bounded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog.testing
from sqlalchemy import Engine, select
from sqlalchemy.exc import DataError

from callcenter.incidents import desk as desk_mod
from callcenter.incidents.desk import IncidentDesk
from callcenter.incidents.store import IncidentStore
from callcenter.store.db import make_engine, migrate
from callcenter.store.models import QuarantineRow

from .test_store import T0, answered_call


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    eng = make_engine(f"sqlite:///{tmp_path / 'desk.db'}")
    migrate(eng)
    yield eng
    eng.dispose()


def quarantined(engine: Engine) -> list[tuple[str, str | None, dict[str, object]]]:
    with engine.connect() as conn:
        got = conn.execute(
            select(QuarantineRow.kind, QuarantineRow.ref, QuarantineRow.original)
        ).all()
    return [(r[0], r[1], json.loads(bytes(r[2]))) for r in got]


@pytest.mark.parametrize(
    "error", [TypeError("a bug"), OverflowError("1e19"), DataError("INSERT", {}, Exception("x"))]
)
async def test_a_failing_job_is_quarantined_and_the_next_runs(
    engine: Engine, monkeypatch: pytest.MonkeyPatch, error: Exception
) -> None:
    store = IncidentStore(engine)
    desk = IncidentDesk(store, retry_min=0.001, retry_max=0.002, clock=lambda: T0)
    real = store.open_for_calls

    def poison_first(calls, **kwargs):  # type: ignore[no-untyped-def]
        if any(call.linkedid == "bad-1" for call, _ in calls):
            raise error
        return real(calls, **kwargs)

    monkeypatch.setattr(store, "open_for_calls", poison_first)
    await desk.start()
    with structlog.testing.capture_logs() as logs:
        desk.call_answered(answered_call("bad-1", "0311110001"))
        desk.call_answered(answered_call("good-2", "0311110002"))
        await desk.stop()
    assert store.find_by_call("lab", "good-2") is not None
    assert store.find_by_call("lab", "bad-1") is None
    [(kind, ref, original)] = quarantined(engine)
    assert (kind, ref) == ("incident_job", "_Open:bad-1")
    assert original["call"]["linkedid"] == "bad-1"  # type: ignore[index]
    failed = [e for e in logs if e["event"] == "incidents.job_failed"]
    assert len(failed) == 1
    assert failed[0]["exc_info"] is True
    assert desk.quarantined == 1


async def test_opened_incidents_kept_are_bounded(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(desk_mod, "OPENED_KEEP", 5)
    store = IncidentStore(engine)
    desk = IncidentDesk(store, clock=lambda: T0)
    await desk.start()
    for i in range(12):
        desk.call_answered(answered_call(f"c-{i}", f"03111100{i:02d}"))
    await desk.stop()
    assert list(desk.opened) == [f"c-{i}" for i in range(7, 12)]  # the last five
    assert desk.opened_count == 12
    assert store.find_by_call("lab", "c-0") is not None  # stored, just not kept in memory
