"""A caller's number cannot write into the PBX's record: PJSIP decodes %0A in the From
URI's user part into a line break, and Asterisk 16 wrote the number as it came into the
queue_log, where the line break started a PAUSE line of the caller's making (seen on
the lab before the routes kept only a number's characters: CLEAN_CALLER)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from callcenter.lab import Lab
from tests.integration.conftest import RunningDaemon, finished_call
from tests.support.sipp import Sipp, finish, stop

FORGED = "0312%0A1700000000%7CNONE%7Csmall%7CAgent%201%7CPAUSE%7Cforged"


async def test_a_callers_number_writes_no_line_of_its_own(
    running: RunningDaemon, lab: Lab, sipp: Sipp, agent_ports: dict[str, int]
) -> None:
    queue_log = Path(lab.cfg.lab.workdir) / "log" / "queue_log"
    before = queue_log.read_bytes() if queue_log.exists() else b""
    agent = sipp.agent(agent_ports["agent1"], answer_ms=300, calls=1)
    try:
        await asyncio.to_thread(finish, sipp.caller("1000", [(FORGED, "偽 造")], talk_ms=1500), 30)
        # The record keeps the number as the PBX first reported it (the channel's own, at
        # Newchannel): it is data there, in a column, never a line.
        record = await finished_call(running, "0312\n1700000000|NONE|small|Agent 1|PAUSE|forged")
    finally:
        stop(agent)
    assert record.outcome is not None
    # The queue_log has the cleaned number: no line of the caller's making.
    await asyncio.sleep(0.5)
    written = queue_log.read_bytes()[len(before) :].decode("utf-8", "replace")
    assert written, "the call wrote its queue_log lines"
    assert "|ENTERQUEUE||03121700000000NONEsmallAgent1PAUSEforged|" in written
    assert "|PAUSE|forged" not in written
    assert not any(line.startswith("1700000000|") for line in written.splitlines())
