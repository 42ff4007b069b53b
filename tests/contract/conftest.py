"""The real application (``make_app(ApiDeps(...))``) over a real, migrated SQLite file,
with the PBX side of tests/unit/web/pbx_support.py (a live state fed with the lab's AMI
events, a fake AMI answering the actions), served on a loopback port from its own
thread; one token per role; seeded incidents. Each role gets a fresh copy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import schemathesis
from aiohttp import web
from sqlalchemy import Engine

from callcenter.followups.desk import FollowupDesk
from callcenter.followups.settings import FollowupsConfig
from callcenter.followups.store import FollowupStore
from callcenter.incidents.store import IncidentStore
from callcenter.schedule.calendar import BusinessCalendar
from callcenter.schedule.mode import ModeKeeper
from callcenter.store.audit import AuditLog
from callcenter.store.db import make_engine, migrate
from callcenter.web.app import make_app
from callcenter.web.auth import TokenStore
from callcenter.web.deps import ApiDeps
from tests.contract.harness import (
    FOLLOWUP_IDS,
    PEOPLE,
    ROLES,
    SecondLineSigner,
    fetch_description,
    load_schema,
    schemathesis_config,
    seed_followups,
    seed_incidents,
)
from tests.contract.serve import LoopThread, loop_thread, serving
from tests.unit.schedule.support import FakeAMI, FakeClock, jst
from tests.unit.web.pbx_support import (
    AGENTS,
    CALLER_UID,
    PARKED,
    QUEUES,
    FakePbx,
    caller_arrives,
    joined,
    live_with,
    make_deps,
    record,
    talking_events,
)
from tests.unit.web.support import CALENDAR, SECOND_LINE_SECRET, T0, Clock

WAITING_UID = "1763427600.21"


@dataclass(frozen=True)
class Served:
    base_url: str
    role: str
    token: str | None  # None: no Authorization header at all
    schema: schemathesis.BaseSchema
    signer: SecondLineSigner


@pytest.fixture(scope="session")
def contract_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("contract-template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate(engine)
    seed_followups(FollowupStore(engine))
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def contract_loop() -> Iterator[LoopThread]:
    with loop_thread() as lt:
        yield lt


def _build(engine: Engine, tokens: TokenStore) -> web.Application:
    live = live_with(
        *talking_events(),
        caller_arrives(WAITING_UID, "0311110009", "待ち 花子"),
        joined("support", WAITING_UID, "0311110009", "待ち 花子"),
        PARKED,
    )
    mode_clock = FakeClock(jst(2026, 11, 18, 10, 0))
    keeper = ModeKeeper(FakeAMI(mode_clock), BusinessCalendar(), clock=mode_clock)
    pbx = replace(
        make_deps(
            live,
            pbx=FakePbx(live),
            keeper=keeper,
            records={
                CALLER_UID: record(CALLER_UID, arrived=1763427600.0, queued=1763427601.0),
                WAITING_UID: record(WAITING_UID, arrived=1763427650.0, queued=1763427651.0),
            },
        ),
        engine=engine,
        today_coverage=lambda: None,
        followups=FollowupDesk(
            FollowupStore(engine), FakePbx(live), live, AGENTS, FollowupsConfig()
        ),
    )
    deps = ApiDeps(
        audit=AuditLog(engine),
        incidents=IncidentStore(engine),
        tokens=tokens,
        calendar=CALENDAR,
        second_line_secret=SECOND_LINE_SECRET,
        clock=Clock(),
        pbx=pbx,
    )
    return make_app(deps)


@pytest.fixture(params=ROLES)
def served(
    request: pytest.FixtureRequest,
    contract_db: Path,
    contract_loop: LoopThread,
    tmp_path: Path,
) -> Iterator[Served]:
    role: str = request.param
    path = tmp_path / "contract.db"
    shutil.copyfile(contract_db, path)
    engine = make_engine(f"sqlite:///{path}")
    tokens = TokenStore(engine, clock=Clock())
    issued = {key: tokens.create(*who)[0] for key, who in PEOPLE.items()}

    async def build() -> web.Application:
        return _build(engine, tokens)

    try:
        with serving(contract_loop, build) as base_url:
            ids = contract_loop.run(seed_incidents(base_url, issued["supervisor"]))
            doc = contract_loop.run(fetch_description(base_url))
            config = schemathesis_config(
                base_url=base_url,
                incident_ids=ids,
                followup_ids=FOLLOWUP_IDS,
                agent_ids=[a.id for a in AGENTS],
                queue_names=[q.name for q in QUEUES],
                coverage=True,
            )
            signer = SecondLineSigner(SECOND_LINE_SECRET, T0.timestamp)  # the API's clock
            yield Served(base_url, role, issued.get(role), load_schema(doc, config), signer)
    finally:
        engine.dispose()


@pytest.fixture
def contract_schema(served: Served) -> schemathesis.BaseSchema:
    return served.schema
