"""The agent's state view, derived from the live state that queue member events move."""

from __future__ import annotations

import pytest

from callcenter.agents import AgentService, AgentState, DeviceStatus, Membership
from callcenter.telephony.live import LiveState
from tests.unit.agents.fakes import AGENTS, QUEUES, FakeClient, member_event, status_member

# Asterisk's AST_DEVICE_* numbers as member events carry them in Status.
STATUS_TABLE = [
    ("0", DeviceStatus.UNKNOWN),
    ("1", DeviceStatus.NOT_IN_USE),
    ("2", DeviceStatus.IN_USE),
    ("3", DeviceStatus.BUSY),
    ("4", DeviceStatus.INVALID),
    ("5", DeviceStatus.UNAVAILABLE),
    ("6", DeviceStatus.RINGING),
    ("7", DeviceStatus.RINGING),  # RINGINUSE
    ("8", DeviceStatus.ON_HOLD),
    ("9", DeviceStatus.UNKNOWN),  # a state a later Asterisk may add
    ("", DeviceStatus.UNKNOWN),
    ("busy", DeviceStatus.UNKNOWN),
]


@pytest.fixture
def live() -> LiveState:
    return LiveState()


@pytest.fixture
def svc(live: LiveState) -> AgentService:
    return AgentService(FakeClient(), live, AGENTS, QUEUES)


@pytest.mark.parametrize(("status", "expected"), STATUS_TABLE)
def test_device_status_from_member_events(
    svc: AgentService, live: LiveState, status: str, expected: DeviceStatus
) -> None:
    live.apply(member_event("QueueMemberAdded", "small", status="1"))
    live.apply(member_event("QueueMemberStatus", "small", status=status))
    st = svc.state("agent1")
    assert st.queue("small").status is expected
    assert st.device is expected


@pytest.mark.parametrize(("status", "expected"), STATUS_TABLE)
def test_device_status_from_the_resync(
    svc: AgentService, live: LiveState, status: str, expected: DeviceStatus
) -> None:
    live.reset_from_resync([status_member("support", "PJSIP/agent1", "Agent 1", status=status)], [])
    assert svc.state("agent1").queue("support").status is expected


def test_device_status_values_are_the_api_names() -> None:
    assert [s.value for s in DeviceStatus] == [
        "unknown",
        "not_in_use",
        "in_use",
        "busy",
        "invalid",
        "unavailable",
        "ringing",
        "on_hold",
    ]


def test_not_logged_in_anywhere(svc: AgentService) -> None:
    assert svc.state("agent1") == AgentState(
        agent_id="agent1",
        name="Agent 1",
        interface="PJSIP/agent1",
        queues=(
            Membership("support", member=False, status=None),
            Membership("small", member=False, status=None),
        ),
    )
    st = svc.state("agent1")
    assert (st.logged_in, st.paused, st.device) == (False, False, DeviceStatus.UNKNOWN)


def test_login_pause_resume_logout_as_the_events_tell(svc: AgentService, live: LiveState) -> None:
    # After a resync: a static member of support, idle.
    live.reset_from_resync([status_member("support", "PJSIP/agent1", "Agent 1")], [])
    st = svc.state("agent1")
    assert st.queue("support") == Membership("support", True, DeviceStatus.NOT_IN_USE)
    assert st.queue("small").member is False
    assert st.logged_in

    live.apply(member_event("QueueMemberAdded", "small"))
    assert svc.state("agent1").queue("small") == Membership("small", True, DeviceStatus.NOT_IN_USE)

    live.apply(member_event("QueueMemberPause", "small", paused=True, reason="lunch"))
    st = svc.state("agent1")
    assert st.queue("small") == Membership("small", True, DeviceStatus.NOT_IN_USE, True, "lunch")
    assert st.queue("support").paused is False
    assert st.paused is False  # not in every queue

    live.apply(
        member_event(
            "QueueMemberPause", "support", paused=True, reason="lunch", membership="static"
        )
    )
    assert svc.state("agent1").paused is True

    # A call: both memberships follow the device.
    for q in ("support", "small"):
        live.apply(member_event("QueueMemberStatus", q, status="2", paused=True, reason="lunch"))
    st = svc.state("agent1")
    assert [m.status for m in st.queues] == [DeviceStatus.IN_USE, DeviceStatus.IN_USE]
    assert st.device is DeviceStatus.IN_USE

    live.apply(member_event("QueueMemberPause", "small", paused=False, status="2"))
    assert svc.state("agent1").queue("small") == Membership(
        "small", True, DeviceStatus.IN_USE, False, ""
    )

    live.apply(member_event("QueueMemberRemoved", "small"))
    st = svc.state("agent1")
    assert st.queue("small") == Membership("small", member=False, status=None)
    assert st.queue("support").member is True


def test_a_stale_reason_is_not_shown_when_not_paused(svc: AgentService, live: LiveState) -> None:
    ev = member_event("QueueMemberStatus", "small", paused=False)
    ev["PausedReason"] = "lunch"
    live.apply(ev)
    assert svc.state("agent1").queue("small").reason == ""


def test_other_members_do_not_count(svc: AgentService, live: LiveState) -> None:
    live.apply(member_event("QueueMemberAdded", "small", "PJSIP/agent2", "山田 太郎"))
    assert svc.state("agent1").logged_in is False
    assert svc.state("agent2").queue("small").member is True


def test_queue_lookup_of_an_unconfigured_queue(svc: AgentService) -> None:
    with pytest.raises(KeyError):
        svc.state("agent1").queue("sales")
