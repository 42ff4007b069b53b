"""The AMI actions the agent service sends, what it refuses before sending, and its errors."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from callcenter.agents import (
    MAX_REASON_BYTES,
    AgentError,
    AgentService,
    InvalidReasonError,
    NotInQueueError,
    PBXError,
    StaticMemberError,
    UnknownAgentError,
    UnknownQueueError,
    check_reason,
)
from callcenter.ami import AMIActionError, AMIConnectionError, AMIError, AMITimeoutError
from callcenter.telephony.live import LiveState
from tests.unit.agents.fakes import AGENTS, QUEUES, FakeClient, member_event

# Asterisk 16.28's exact refusals (seen on the lab).
ALREADY_THERE = "Unable to add interface: Already there"
NOT_THERE = "Unable to remove interface: Not there"
NOT_DYNAMIC = "Member not dynamic"
NOT_FOUND = "Interface not found"
NO_SUCH_QUEUE = "Unable to add interface to queue: No such queue"


@pytest.fixture
def client() -> FakeClient:
    return FakeClient()


@pytest.fixture
def live() -> LiveState:
    return LiveState()


@pytest.fixture
def svc(client: FakeClient, live: LiveState) -> AgentService:
    return AgentService(client, live, AGENTS, QUEUES)


def add(
    queue: str, name: str = "Agent 1", iface: str = "PJSIP/agent1"
) -> tuple[str, dict[str, str]]:
    return (
        "QueueAdd",
        {
            "Queue": queue,
            "Interface": iface,
            "MemberName": name,
            "StateInterface": iface,
            "Paused": "false",
        },
    )


def remove(queue: str) -> tuple[str, dict[str, str]]:
    return ("QueueRemove", {"Queue": queue, "Interface": "PJSIP/agent1"})


# -- login -------------------------------------------------------------------------------


async def test_login_joins_the_configured_queues_following_the_device(
    svc: AgentService, client: FakeClient
) -> None:
    assert await svc.login("agent2") == ("support", "small")
    assert client.sent == [
        add("support", "山田 太郎", "PJSIP/agent2"),
        add("small", "山田 太郎", "PJSIP/agent2"),
    ]


async def test_login_to_named_queues_even_outside_the_configured_ones(
    svc: AgentService, client: FakeClient
) -> None:
    assert await svc.login("agent1", ["small"]) == ("small",)
    assert client.sent == [add("small")]


async def test_login_takes_one_queue_name_as_a_name_and_sends_each_queue_once(
    svc: AgentService, client: FakeClient
) -> None:
    assert await svc.login("agent1", "small") == ("small",)
    assert await svc.login("agent1", ["small", "support", "small"]) == ("small", "support")
    assert client.sent == [add("small"), add("small"), add("support")]


async def test_login_when_already_a_member_is_not_an_error(
    svc: AgentService, client: FakeClient
) -> None:
    client.refuse[("QueueAdd", "support")] = ALREADY_THERE
    assert await svc.login("agent1", ["support", "small"]) == ("small",)
    assert client.sent == [add("support"), add("small")]


async def test_login_with_no_queues_sends_nothing(svc: AgentService, client: FakeClient) -> None:
    assert await svc.login("agent1", []) == ()
    assert client.sent == []


async def test_login_refused_otherwise_is_a_pbx_error_naming_the_queue(
    svc: AgentService, client: FakeClient
) -> None:
    client.refuse[("QueueAdd", "small")] = NO_SUCH_QUEUE
    with pytest.raises(PBXError) as info:
        await svc.login("agent1", ["support", "small"])
    err = info.value
    assert str(err) == f"QueueAdd for agent 'agent1' in queue 'small' failed: {NO_SUCH_QUEUE}"
    assert (err.action, err.agent_id, err.queue, err.detail) == (
        "QueueAdd",
        "agent1",
        "small",
        NO_SUCH_QUEUE,
    )
    assert isinstance(err.__cause__, AMIActionError)
    assert client.sent == [add("support"), add("small")]  # support was joined first


# -- logout ------------------------------------------------------------------------------


async def test_logout_of_named_queues(svc: AgentService, client: FakeClient) -> None:
    assert await svc.logout("agent1", ["small"]) == ("small",)
    assert client.sent == [remove("small")]


async def test_logout_of_a_queue_it_is_not_in(svc: AgentService, client: FakeClient) -> None:
    client.refuse[("QueueRemove", "small")] = NOT_THERE
    with pytest.raises(NotInQueueError, match="not logged in to queue 'small'") as info:
        await svc.logout("agent1", ["small"])
    assert info.value.queue == "small"


async def test_logout_of_a_static_membership_is_refused(
    svc: AgentService, client: FakeClient
) -> None:
    client.refuse[("QueueRemove", "support")] = NOT_DYNAMIC
    with pytest.raises(StaticMemberError, match="permanent member of queue 'support'"):
        await svc.logout("agent1", ["support", "small"])
    assert client.sent == [remove("support")]  # stops at the first refusal


async def test_logout_by_default_leaves_every_queue_it_can(
    svc: AgentService, client: FakeClient, live: LiveState
) -> None:
    # In support by configuration (static: stays), in small by a log-in.
    live.apply(member_event("QueueMemberAdded", "small"))
    client.refuse[("QueueRemove", "support")] = NOT_DYNAMIC
    assert await svc.logout("agent1") == ("small",)
    assert client.sent == [remove("support"), remove("small")]


async def test_logout_by_default_skips_queues_it_already_left(
    svc: AgentService, client: FakeClient
) -> None:
    client.refuse[("QueueRemove", "support")] = NOT_THERE
    assert await svc.logout("agent1") == ()
    assert client.sent == [remove("support")]  # small: not configured, not a member


async def test_logout_refused_otherwise_is_a_pbx_error(
    svc: AgentService, client: FakeClient
) -> None:
    client.refuse[("QueueRemove", "support")] = (
        "Unable to remove interface from queue: No such queue"
    )
    with pytest.raises(PBXError, match="QueueRemove for agent 'agent1' in queue 'support'"):
        await svc.logout("agent1")


# -- pause / resume ----------------------------------------------------------------------


async def test_pause_in_all_queues_with_the_reason(svc: AgentService, client: FakeClient) -> None:
    await svc.pause("agent2", "昼休み")
    assert client.sent == [
        ("QueuePause", {"Interface": "PJSIP/agent2", "Paused": "true", "Reason": "昼休み"})
    ]


async def test_pause_in_one_queue(svc: AgentService, client: FakeClient) -> None:
    await svc.pause("agent1", "lunch", queue="small")
    assert client.sent == [
        (
            "QueuePause",
            {"Queue": "small", "Interface": "PJSIP/agent1", "Paused": "true", "Reason": "lunch"},
        )
    ]


async def test_resume(svc: AgentService, client: FakeClient) -> None:
    await svc.resume("agent1")
    await svc.resume("agent1", queue="small")
    assert client.sent == [
        ("QueuePause", {"Interface": "PJSIP/agent1", "Paused": "false"}),
        ("QueuePause", {"Queue": "small", "Interface": "PJSIP/agent1", "Paused": "false"}),
    ]


@pytest.mark.parametrize(
    ("queue", "message"),
    [(None, "not logged in to any queue"), ("small", "not logged in to queue 'small'")],
)
async def test_pause_when_not_a_member(
    svc: AgentService, client: FakeClient, queue: str | None, message: str
) -> None:
    client.refuse[("QueuePause", queue)] = NOT_FOUND
    with pytest.raises(NotInQueueError, match=message):
        await svc.pause("agent1", "lunch", queue=queue)
    with pytest.raises(NotInQueueError, match=message):
        await svc.resume("agent1", queue=queue)


# -- AMI failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "failure",
    [
        AMITimeoutError("no response to QueuePause in 10.0s"),
        AMIConnectionError("not connected to 127.0.0.1:5038"),
        AMIActionError("QueuePause", "Permission denied"),
    ],
)
async def test_ami_failures_are_wrapped(
    svc: AgentService, client: FakeClient, failure: AMIError
) -> None:
    client.refuse[("QueuePause", None)] = failure
    with pytest.raises(PBXError) as info:
        await svc.pause("agent1", "lunch")
    assert str(info.value).startswith("QueuePause for agent 'agent1' failed: ")
    assert info.value.__cause__ is failure


async def test_ami_failure_on_login_is_wrapped(svc: AgentService, client: FakeClient) -> None:
    client.refuse[("QueueAdd", "support")] = AMITimeoutError("no response to QueueAdd in 10.0s")
    with pytest.raises(
        PBXError,
        match=r"^QueueAdd for agent 'agent1' in queue 'support' failed: no response to QueueAdd",
    ):
        await svc.login("agent1")


# -- refused before any action -----------------------------------------------------------

Call = Callable[[AgentService], Awaitable[object]]

CALLS: dict[str, tuple[Call, type[AgentError]]] = {
    "login: unknown agent": (lambda s: s.login("agent9"), UnknownAgentError),
    "logout: unknown agent": (lambda s: s.logout("agent9"), UnknownAgentError),
    "pause: unknown agent": (lambda s: s.pause("agent9", "lunch"), UnknownAgentError),
    "resume: unknown agent": (lambda s: s.resume("agent9"), UnknownAgentError),
    "login: unknown queue": (lambda s: s.login("agent1", ["small", "sales"]), UnknownQueueError),
    "logout: unknown queue": (lambda s: s.logout("agent1", ["small", "sales"]), UnknownQueueError),
    "pause: unknown queue": (
        lambda s: s.pause("agent1", "lunch", queue="sales"),
        UnknownQueueError,
    ),
    "resume: unknown queue": (lambda s: s.resume("agent1", queue="sales"), UnknownQueueError),
    "pause: bad reason, unknown queue": (
        lambda s: s.pause("agent1", "a\nb", queue="sales"),
        AgentError,
    ),
}


@pytest.mark.parametrize("case", list(CALLS))
async def test_refused_before_sending(svc: AgentService, client: FakeClient, case: str) -> None:
    call, error = CALLS[case]
    with pytest.raises(error):
        await call(svc)
    assert client.sent == []


def test_unknown_agent_state(svc: AgentService) -> None:
    with pytest.raises(UnknownAgentError, match="unknown agent 'agent9'"):
        svc.state("agent9")


BAD_REASONS = {
    "empty": "",
    "blank": "   ",
    "LF": "lunch\nAction: Originate",
    "CR": "lunch\r",
    "tab": "lunch\tbreak",
    "NUL": "lunch\x00",
    "DEL": "lunch\x7f",
    "C1 control": "lunch\x85",
    "line separator": "lunch\u2028",
    "lone surrogate": "lunch\ud800",
    "80 ASCII bytes": "a" * 80,
    "27 Japanese characters (81 bytes)": "休" * 27,
    "40 two-byte characters (80 bytes)": "é" * 40,
}


@pytest.mark.parametrize("name", list(BAD_REASONS))
async def test_bad_reasons_are_refused_before_sending(
    svc: AgentService, client: FakeClient, name: str
) -> None:
    with pytest.raises(InvalidReasonError):
        await svc.pause("agent1", BAD_REASONS[name])
    assert client.sent == []


@pytest.mark.parametrize(
    "reason",
    ["lunch", "昼休み", "研修 (午後)", "a" * MAX_REASON_BYTES, "休" * 26, "x" + "é" * 39],
)
async def test_good_reasons_are_sent_verbatim(
    svc: AgentService, client: FakeClient, reason: str
) -> None:
    assert check_reason(reason) == reason
    await svc.pause("agent1", reason)
    assert client.sent[-1][1]["Reason"] == reason


def test_reason_messages_say_what_is_wrong() -> None:
    with pytest.raises(InvalidReasonError, match="needs a reason"):
        check_reason(" ")
    with pytest.raises(InvalidReasonError, match=r"control characters .* \(found U\+000A\)"):
        check_reason("a\nb")
    with pytest.raises(InvalidReasonError, match="too long: 81 bytes in UTF-8, at most 79"):
        check_reason("休" * 27)
