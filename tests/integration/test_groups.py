"""Group numbers (グループ代表番号) on a lab of their own, with real sipp phones.

The lab of this module (not the session's: its config has no groups of its own):
  3100 ring-all g1 + g2, 10 s, then hang up
  3200 hunt g3 then g4, 3 s each, then hang up
  3300 ring-all g9 (no phone at all), 2 s, then the queue "spill" (no members)
  2100 menu: 3 -> group "front" (ring-all g5 + g6, 10 s)
Each phone (port) serves one test only: a phone stopped before Asterisk's BYE or CANCEL
reached it gets their retransmissions later, which would abort the next phone started
on the same port.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from callcenter.ami.settings import AMIConfig
from callcenter.config import Config
from callcenter.daemon import Daemon
from callcenter.dialplan.settings import AgentConfig, GroupConfig, IvrConfig, QueueConfig
from callcenter.lab import Lab, LabState
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.settings import DatabaseConfig
from callcenter.telephony.calls import Outcome
from callcenter.web.serve import serve
from tests.integration.conftest import RunningDaemon, finished_call, target_of, wait_for
from tests.support.sipp import Sipp, finish, free_udp_port, stop


@dataclass
class GroupLab:
    lab: Lab
    state: LabState
    cfg: Config
    ports: dict[str, int]

    @property
    def sipp(self) -> Sipp:
        return Sipp(self.state.sip_port)

    def agent_channels(self) -> set[str]:
        """Endpoints of the agents' channels that are up or ringing now."""
        shown = self.lab.cli("core show channels concise")
        return {
            line.split("!", 1)[0].split("/", 1)[1].rsplit("-", 1)[0]
            for line in shown.splitlines()
            if line.startswith("PJSIP/g")
        }


@pytest.fixture(scope="module")
def group_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GroupLab]:
    base = tmp_path_factory.mktemp("groups")
    ports = {aid: free_udp_port() for aid in ("g1", "g2", "g3", "g4", "g5", "g6", "g9")}
    cfg = Config(
        database=DatabaseConfig(
            url=f"sqlite:///{base / 'cc.db'}", spool_dir=str(base / "spool"), flush_interval=0.05
        ),
        ami=AMIConfig(reconnect_min=0.2, reconnect_max=1.0, action_timeout=3.0),
        # The test pins the mode itself: it runs on any day, holidays too.
        service=ServiceConfig(manage_mode=False),
        queues=(QueueConfig(name="spill", number="1100", timeout=5, retry=1),),
        ivr=(IvrConfig(name="menu", number="2100", timeout=3, options=(("3", "group:front"),)),),
        groups=(
            GroupConfig(name="all", number="3100", members=("g1", "g2"), timeout=10),
            GroupConfig(name="front", members=("g5", "g6"), timeout=10),
            GroupConfig(
                name="hunt", number="3200", members=("g3", "g4"), strategy="hunt", timeout=3
            ),
            GroupConfig(
                name="nobody", number="3300", members=("g9",), timeout=2, overflow="queue:spill"
            ),
        ),
        agents=tuple(
            AgentConfig(id=aid, name=f"Group {aid}", contact=f"sip:{aid}@127.0.0.1:{port}")
            for aid, port in ports.items()
        ),
        base_dir=base,
    )
    lab = Lab(cfg, workdir=base / "lab")
    try:
        state = lab.up()
        lab.cli("database put callcenter mode open")
        lab.cli(f"database put callcenter mode_until {int(time.time()) + 3600}")
        yield GroupLab(lab, state, cfg, ports)
    finally:
        lab.down()


@pytest.fixture
async def daemon(group_lab: GroupLab) -> AsyncIterator[RunningDaemon]:
    rd = RunningDaemon(serve(Daemon(group_lab.cfg, target_of(group_lab.state))))
    await rd.start()
    yield rd
    await rd.shutdown()


def test_the_group_dialplan_loads_cleanly(group_lab: GroupLab) -> None:
    messages = (Path(group_lab.lab.work) / "log" / "messages").read_text(errors="replace")
    assert [
        line
        for line in messages.splitlines()
        if ("WARNING" in line or "ERROR" in line)
        and any(f" {src}.c:" in line for src in ("pbx_config", "pbx", "app_dial"))
    ] == []
    for name in ("all", "hunt", "nobody", "front"):
        assert "Dial(PJSIP/g" in group_lab.lab.cli(f"dialplan show callcenter-group-{name}")


async def test_ring_all_is_answered_by_whoever_answers_first(
    group_lab: GroupLab, daemon: RunningDaemon
) -> None:
    sipp = group_lab.sipp
    slow = sipp.agent(group_lab.ports["g1"], answer_ms=8000)
    fast = sipp.agent(group_lab.ports["g2"], answer_ms=500)
    try:
        caller = sipp.caller("3100", [("0333330001", "山田 太郎")], talk_ms=3000)
        # While g2 talks, g1 no longer rings.
        await wait_for(lambda: group_lab.agent_channels() == {"g2"}, 5, "g2 alone on the call")
        await asyncio.to_thread(finish, caller, 30)
    finally:
        stop(slow)
        stop(fast)
    call = await finished_call(daemon, "0333330001")
    assert call.outcome is Outcome.ANSWERED
    assert (call.agent, call.agent_interface, call.dnis) == (
        "Group g2",
        "PJSIP/g2",
        "3100",
    )  # the configured name
    assert call.answered_at is not None
    assert 0.3 <= call.answered_at - call.arrived_at < 3


async def test_hunt_rings_the_next_member_when_the_first_does_not_answer(
    group_lab: GroupLab, daemon: RunningDaemon
) -> None:
    sipp = group_lab.sipp
    # g3 would answer only after 8 s: its 3 s are up before that.
    first = sipp.agent(group_lab.ports["g3"], answer_ms=8000)
    second = sipp.agent(group_lab.ports["g4"], answer_ms=300)
    try:
        caller = sipp.caller("3200", [("0333330002", "佐藤 花子")], talk_ms=2000)
        await asyncio.to_thread(finish, caller, 30)
    finally:
        stop(first)
        stop(second)
    call = await finished_call(daemon, "0333330002")
    assert call.outcome is Outcome.ANSWERED
    assert call.agent == "Group g4"
    assert call.answered_at is not None
    assert 3 <= call.answered_at - call.arrived_at < 6  # g3 rang its full 3 s first


async def test_no_answer_overflows_to_the_queue(group_lab: GroupLab, daemon: RunningDaemon) -> None:
    # g9 has no phone at all; after 2 s the call goes to the queue "spill", which is
    # answered by the dialplan (busy announcement, then waiting) until the caller gives up.
    caller = group_lab.sipp.caller("3300", [("0333330003", "鈴木 一郎")], talk_ms=4000)
    await asyncio.to_thread(finish, caller, 30)
    call = await finished_call(daemon, "0333330003")
    assert call.queue == "spill"
    assert call.queued_at is not None
    assert call.queued_at - call.arrived_at >= 2  # after the group rang its 2 s
    assert call.answered_at is None
    assert call.agent is None
    assert call.outcome is Outcome.ABANDONED


async def test_a_menu_choice_rings_the_group(group_lab: GroupLab, daemon: RunningDaemon) -> None:
    sipp = group_lab.sipp
    phone = sipp.agent(group_lab.ports["g5"], answer_ms=500)  # g6 has no phone
    try:
        caller = sipp.caller("2100", [("0333330004", "高橋 美咲")], talk_ms=2000, keys="3")
        await asyncio.to_thread(finish, caller, 30)
    finally:
        stop(phone)
    call = await finished_call(daemon, "0333330004")
    assert call.ivr_path == ["menu:3"]
    assert (call.outcome, call.agent) == (Outcome.ANSWERED, "Group g5")


async def test_a_closed_desk_plays_the_after_hours_message(
    group_lab: GroupLab, daemon: RunningDaemon
) -> None:
    group_lab.lab.cli("database put callcenter mode closed")
    try:
        caller = group_lab.sipp.caller("3100", [("0333330005", "伊藤 健")], talk_ms=1000)
        await asyncio.to_thread(finish, caller, 30)
    finally:
        group_lab.lab.cli("database put callcenter mode open")
    call = await finished_call(daemon, "0333330005")
    assert call.outcome is Outcome.AFTER_HOURS
    assert call.agent is None
