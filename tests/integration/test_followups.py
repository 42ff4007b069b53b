"""The follow-up list on the lab, with real calls (sipp callers, agent phones, and a
caller's phone the desk calls back through the trunk).

Two callers dial 1002 (queue ``vmq``: no agent is a member, so each hears the busy
announcement, lets the voicemail offer pass and waits) and hang up after 8 s: both calls
end ``abandoned`` (beyond the one-ring threshold) and both callers appear on the list.
Then agent1 presses the console's call-back for the first: agent1's sipp phone rings
and answers, then the caller's sipp phone on the trunk (127.0.0.2) rings and answers,
and the entry is recorded as reached. The second caller calls 1000 again and agent1
answers: that caller leaves the list too, reached by calling again.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from callcenter.ami import Message
from callcenter.daemon import Daemon
from callcenter.telephony.calls import Outcome
from callcenter.web.serve import http_of
from tests.integration.conftest import RunningDaemon, wait_for
from tests.support.sipp import Sipp, finish, stop

FIRST, SECOND = ("0300000771", "折り返し 一郎"), ("0300000772", "折り返し 二郎")
WHO = {"sup": ("suzuki", "supervisor", None), "a1": ("agent1", "agent", "agent1")}


@dataclass
class Desk:
    rd: RunningDaemon
    url: str
    http: aiohttp.ClientSession
    tokens: dict[str, str]
    events: list[Message] = field(default_factory=list)
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    async def call(self, method: str, path: str, who: str = "a1", body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"}
        async with self.http.request(
            method, f"{self.url}/api/v1{path}", json=body, headers=headers
        ) as r:
            return r.status, await r.json()

    async def open_numbers(self) -> dict[str, dict[str, Any]]:
        status, body = await self.call("GET", "/followups")
        assert status == 200, body
        return {f["caller_num"]: f for f in body["followups"]}

    def index(self, event: str, after: int = 0, **headers: str) -> int:
        for i, e in enumerate(self.events):
            if (
                i >= after
                and e.get("Event") == event
                and all(e.get(k, "").startswith(v) for k, v in headers.items())
            ):
                return i
        raise AssertionError(f"no {event} {headers}")


@pytest.fixture
async def desk(daemon_factory: Callable[..., Daemon]) -> AsyncIterator[Desk]:
    rd = RunningDaemon(daemon_factory())
    await rd.start()
    front = http_of(rd.daemon)
    tokens = {k: front.tokens.create(*who)[0] for k, who in WHO.items()}
    async with aiohttp.ClientSession() as http:
        d = Desk(rd, f"http://127.0.0.1:{front.port}", http, tokens)
        handler = rd.daemon.client.on_event
        assert handler is not None

        def on_event(msg: Message, received: float) -> None:
            d.events.append(msg)
            handler(msg, received)

        rd.daemon.client.on_event = on_event
        try:
            yield d
        finally:
            for proc in d.procs:
                stop(proc)
            await rd.shutdown()


async def test_abandoned_callers_are_called_back_or_call_again(
    desk: Desk, sipp: Sipp, agent_ports: dict[str, int], trunk_port: int
) -> None:
    d = desk.rd.daemon
    # 1. Two callers give up after 8 s in a queue nobody answers.
    callers = [sipp.caller("1002", [who], talk_ms=8000) for who in (FIRST, SECOND)]
    for proc in callers:
        await asyncio.to_thread(finish, proc, 30)
    numbers = (FIRST[0], SECOND[0])

    def both_finished() -> bool:
        return {c.caller_num for c in d.recent_calls} >= set(numbers)

    await wait_for(both_finished, 10, "both calls finished")
    for call in d.recent_calls:
        if call.caller_num in numbers:
            assert call.outcome is Outcome.ABANDONED, call
            assert call.ended_at is not None
            assert call.ended_at - call.arrived_at >= 8.0

    listed: dict[str, dict[str, Any]] = {}

    async def on_the_list() -> None:
        nonlocal listed
        for _ in range(100):
            listed = await desk.open_numbers()
            if set(numbers) <= set(listed):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"not on the list: {listed}")

    await on_the_list()
    entry = listed[FIRST[0]]
    assert (entry["reason"], entry["queue"], entry["calls"], entry["status"]) == (
        "abandoned",
        "vmq",
        1,
        "open",
    )
    assert entry["caller_name"] == FIRST[1]

    # 2. agent1 calls the first caller back: its phone first, then the caller's.
    agent = sipp.agent(agent_ports["agent1"], answer_ms=300, calls=2, timeout_s=60)
    caller_phone = sipp.agent(
        trunk_port, answer_ms=1000, hangup_after_ms=2000, address="127.0.0.2", timeout_s=60
    )
    desk.procs += [agent, caller_phone]
    await asyncio.sleep(0.3)
    clicked = len(desk.events)
    status, started = await desk.call("POST", f"/followups/{entry['id']}/callback", body={})
    assert status == 202, started
    assert started["agent_id"] == "agent1"
    attempt = started["attempt_id"]
    await asyncio.to_thread(finish, caller_phone, 30)  # rang, answered, hung up: no error

    async def closed(fid: int) -> dict[str, Any]:
        for _ in range(100):
            status, body = await desk.call("GET", f"/followups/{fid}")
            assert status == 200, body
            if body["followup"]["status"] != "open":
                return dict(body)
            await asyncio.sleep(0.1)
        raise AssertionError(f"follow-up {fid} still open: {body}")

    got = await closed(entry["id"])
    assert (got["followup"]["status"], got["followup"]["closed_by"]) == ("reached", "callback")
    assert got["followup"]["last_result"] == "reached"
    [att] = got["attempts"]
    assert (att["id"], att["agent_id"], att["result"], att["detail"], att["set_by"]) == (
        attempt,
        "agent1",
        "reached",
        "ANSWER",
        "pbx",
    )
    # The agent's phone rang and answered before the caller's leg (the trunk) was dialled.
    rang = desk.index("Newchannel", clicked, Channel="PJSIP/agent1-")
    agent_up = desk.index("Newstate", clicked, Channel="PJSIP/agent1-", ChannelStateDesc="Up")
    dialled = desk.index("Newchannel", clicked, Channel="PJSIP/trunk-")
    caller_up = desk.index("Newstate", clicked, Channel="PJSIP/trunk-", ChannelStateDesc="Up")
    assert rang < agent_up < dialled < caller_up, "\n".join(
        f"{e.get('Event')} {e.get('Channel')} {e.get('ChannelStateDesc')}"
        for e in desk.events[clicked:]
    )
    # The call-back is no inbound call: the figures did not count it.
    assert not [c for c in d.tracker.calls.values() if c.caller_num == FIRST[0]]

    # 3. The second caller calls again and agent1 answers: they leave the list too.
    again = sipp.caller("1000", [SECOND], talk_ms=1500)
    await asyncio.to_thread(finish, again, 30)
    await asyncio.to_thread(finish, agent, 30)

    def answered_again() -> bool:
        return any(
            c.caller_num == SECOND[0] and c.outcome is Outcome.ANSWERED for c in d.recent_calls
        )

    await wait_for(answered_again, 10, "the repeat call finished")
    got = await closed(listed[SECOND[0]]["id"])
    assert (got["followup"]["status"], got["followup"]["closed_by"]) == ("reached", "call_again")
    assert got["attempts"] == []
    assert not set(numbers) & set(await desk.open_numbers())
    # The recall figures count both, reached.
    status, body = await desk.call("GET", "/followups/recall?from=2000-01-01&to=2100-01-01", "sup")
    assert status == 200, body
    assert (body["opened"], body["reached"], body["by_callback"], body["by_call_again"]) == (
        2,
        2,
        1,
        1,
    )
    assert body["share_reached"] == 1.0
    assert body["mean_seconds_to_reach"] > 8.0
