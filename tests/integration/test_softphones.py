"""Agents on softphones that register with their password (baresip), as agents really work.

A lab of its own (the shared one has fixed-contact sipp phones): soft1's password comes
from the environment (``password_env``), soft2's from the file. A sipp caller calls the
queue; soft1 rings, answers 1.5 s later over its control socket, and the daemon records
the call answered by Soft One and opens its incident. A phone with a wrong password is
refused (401) and its agent stays unavailable.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from callcenter.agents import DeviceStatus
from callcenter.ami.settings import AMIConfig
from callcenter.config import Config
from callcenter.daemon import Daemon
from callcenter.dialplan.settings import AgentConfig, QueueConfig
from callcenter.lab import Lab, LabState
from callcenter.lab.settings import LabConfig
from callcenter.pbxrecord.settings import PbxRecordSettings
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.settings import DatabaseConfig
from callcenter.telephony.calls import Outcome
from callcenter.web.serve import serve
from callcenter.web.settings import HttpConfig
from tests.integration.conftest import RunningDaemon, finished_call, set_mode, target_of, wait_for
from tests.support.baresip import agent_phone
from tests.support.sipp import Sipp, finish, stop

SOFT1_ENV = "CC_TEST_SOFT1_PASSWORD"
SOFT1_PASSWORD = "soft1-" + os.urandom(6).hex()  # a fresh one per run: nothing guessed
SOFT2_PASSWORD = "soft2-lab-pw"


@pytest.fixture(scope="module")
def soft_env() -> Iterator[None]:
    old = os.environ.get(SOFT1_ENV)
    os.environ[SOFT1_ENV] = SOFT1_PASSWORD
    yield
    if old is None:
        os.environ.pop(SOFT1_ENV, None)
    else:
        os.environ[SOFT1_ENV] = old


@pytest.fixture(scope="module")
def soft_config(soft_env: None, tmp_path_factory: pytest.TempPathFactory) -> Config:
    base = tmp_path_factory.mktemp("softlab")
    return Config(
        lab=LabConfig(workdir=str(base / "lab"), rtp_start=23000, rtp_end=23499),
        database=DatabaseConfig(url=f"sqlite:///{base / 'cc.db'}", spool_dir=str(base / "spool")),
        queues=(
            QueueConfig(name="support", number="1000", timeout=10, retry=1, strategy="linear"),
        ),
        ivr=(),
        groups=(),
        agents=(
            AgentConfig(id="soft1", name="Soft One", password_env=SOFT1_ENV, queues=("support",)),
            AgentConfig(id="soft2", name="Soft Two", password=SOFT2_PASSWORD, queues=("support",)),
        ),
        transfer_targets=(),
        base_dir=base,
    )


@pytest.fixture(scope="module")
def soft_lab(soft_config: Config) -> Iterator[Lab]:
    lab = Lab(soft_config)
    lab.up()
    set_mode(lab, "open")
    yield lab
    lab.down()


@pytest.fixture
async def soft_daemon(
    soft_config: Config, soft_lab: Lab, tmp_path: Path
) -> AsyncIterator[RunningDaemon]:
    st = soft_lab.running() or soft_lab.up()
    cfg = soft_config.model_copy(
        update={
            "database": DatabaseConfig(
                url=f"sqlite:///{tmp_path / 'events.db'}",
                spool_dir=str(tmp_path / "spool"),
                flush_interval=0.05,
            ),
            "ami": AMIConfig(use_lab=True, reconnect_min=0.2, reconnect_max=1.0),
            "service": ServiceConfig(manage_mode=False),
            "http": HttpConfig(port=0),
            "pbx_record": PbxRecordSettings(enabled=False),
            "base_dir": tmp_path,
        }
    )
    rd = RunningDaemon(serve(Daemon(cfg, target_of(st))))
    await rd.start()
    yield rd
    await rd.shutdown()
    soft_lab.cli("channel request hangup all", check=False)


def running_lab(lab: Lab) -> LabState:
    st = lab.running()
    assert st is not None, "the lab is down"
    return st


def status(d: Daemon, agent: str) -> DeviceStatus | None:
    return d.agents.state(agent).queue("support").status


async def test_a_registered_softphone_answers_a_queue_call(
    soft_daemon: RunningDaemon, soft_lab: Lab, tmp_path: Path
) -> None:
    d = soft_daemon.daemon
    st = running_lab(soft_lab)
    assert status(d, "soft1") is DeviceStatus.UNAVAILABLE  # nobody registered yet
    async with agent_phone(
        st, "soft1", SOFT1_PASSWORD, tmp_path / "soft1", answer_after=1.5
    ) as phone:
        contacts = soft_lab.cli("pjsip show contacts")
        assert "soft1/sip:soft1" in contacts, contacts  # a REGISTER, not a fixed contact
        await wait_for(lambda: status(d, "soft1") is DeviceStatus.NOT_IN_USE, 10, "soft1 free")

        caller = Sipp(st.sip_port).caller("1000", [("0355501001", "登録 太郎")], talk_ms=4000)
        try:
            await asyncio.to_thread(finish, caller, 40)
        finally:
            stop(caller)
        record = await finished_call(soft_daemon, "0355501001", timeout=20)
        ringing = [e for e in phone.events if e.get("type") == "CALL_INCOMING"]
        assert len(ringing) == 1
        assert phone.answered == 1
        assert ringing[0]["peeruri"].startswith("sip:0355501001@")

    assert record.outcome is Outcome.ANSWERED
    assert (record.agent, record.queue) == ("Soft One", "support")
    assert record.wait_seconds is not None
    assert 1.2 < record.wait_seconds < 5
    assert d.incidents is not None
    await wait_for(lambda: d.incidents is not None and d.incidents.pending == 0, 10, "stored")
    incident = d.incident_store.find_by_call(d.cfg.server.id, record.linkedid)
    assert incident is not None, "no incident for the call soft1 answered"
    assert (incident.agent_id, incident.agent, incident.caller_number) == (
        "soft1",
        "Soft One",
        "0355501001",
    )
    # Unregistered on quit: the agent is unavailable again.
    await wait_for(lambda: status(d, "soft1") is DeviceStatus.UNAVAILABLE, 10, "soft1 gone")


async def test_a_wrong_password_is_refused_and_the_agent_stays_unavailable(
    soft_daemon: RunningDaemon, soft_lab: Lab, tmp_path: Path
) -> None:
    d = soft_daemon.daemon
    st = running_lab(soft_lab)
    work = tmp_path / "soft2"
    async with agent_phone(
        st, "soft2", "not-" + SOFT2_PASSWORD, work, wait_registered=False
    ) as phone:
        await asyncio.wait_for(phone.register_failed.wait(), 10)
        failures = [e.get("param", "") for e in phone.events if e.get("type") == "REGISTER_FAIL"]
        # Seen on the control socket, or (refused before it was up) in reginfo.
        assert all(f.startswith("401") for f in failures), failures
        assert not phone.registered.is_set()
        await asyncio.sleep(2)  # time for a state change, were there one
        assert "soft2/sip:" not in soft_lab.cli("pjsip show contacts")
        assert status(d, "soft2") is DeviceStatus.UNAVAILABLE
    assert "Failed to authenticate" in (Path(st.workdir) / "log" / "messages").read_text()
    # The right password is in neither the phone's log nor the PBX's.
    assert SOFT2_PASSWORD not in (work / "baresip.log").read_text()
    assert SOFT2_PASSWORD not in (Path(st.workdir) / "log" / "messages").read_text()
