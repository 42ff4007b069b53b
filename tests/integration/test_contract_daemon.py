"""The contract run against the daemon on the lab (issue 11): the daemon serves the same
application, over its own AMI connection to the lab Asterisk, its own SQLite file and
its own port; every operation it describes, for each role, gets fewer generated
requests than in tests/contract (where the PBX side is faked and each request costs
nothing), with the same checks: no 5xx, every answer documented.

The lab is shared with the other integration tests: whatever the generated requests
changed there (agents' queue memberships and pauses) is undone at the end, and the
service mode is pinned again (the daemon here does not manage it)."""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator

import pytest

from callcenter.ami import AMIActionError, AMIError
from callcenter.config import Config
from callcenter.daemon import Daemon
from callcenter.lab import Lab, LabState
from callcenter.web.serve import http_of
from tests.contract.harness import (
    PEOPLE,
    ROLES,
    Contract,
    Finding,
    SecondLineSigner,
    described,
    fetch_description,
    load_schema,
    schemathesis_config,
    seed_incidents,
    summary,
)
from tests.contract.serve import LoopThread, loop_thread
from tests.integration.conftest import RunningDaemon, set_mode

SECRET = "second-line-contract-s3cret"
MAX_EXAMPLES = 15  # per operation and role, in the fuzzing phase


@pytest.fixture
def daemon_loop() -> Iterator[LoopThread]:
    with loop_thread() as lt:
        yield lt


async def undo_lab_changes(daemon: Daemon, cfg: Config) -> None:
    """Back to the lab's queues.conf: each agent in its static queues only, unpaused."""
    for agent in cfg.agents:
        iface = f"PJSIP/{agent.id}"
        for queue in cfg.queues:
            if queue.name not in agent.queues:
                with contextlib.suppress(AMIActionError):
                    await daemon.client.action(
                        "QueueRemove", {"Queue": queue.name, "Interface": iface}
                    )
        with contextlib.suppress(AMIActionError):
            await daemon.client.action("QueuePause", {"Interface": iface, "Paused": "false"})


def memberships(lab: Lab) -> set[tuple[str, str, bool, bool]]:
    """(queue, interface, dynamic, paused) of every queue member, as Asterisk has them."""
    found: set[tuple[str, str, bool, bool]] = set()
    queue = ""
    for line in lab.cli("queue show").splitlines():
        if m := re.match(r"^(\S+) has \d+ calls", line):
            queue = m[1]
        elif (m := re.search(r"\((PJSIP/[^)]+)\)", line)) and queue:
            found.add((queue, m[1], "(dynamic)" in line, "(paused" in line))
    return found


# One test per role, each with its own daemon: a role's run is one test's worth of work.
@pytest.mark.parametrize("role", ROLES)
def test_the_daemon_answers_as_documented(
    role: str,
    daemon_factory: Callable[..., Daemon],
    daemon_loop: LoopThread,
    lab: Lab,
    lab_state: LabState,
    lab_config: Config,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The daemon reads the second line's secret from its environment variable.
    monkeypatch.setenv(lab_config.incidents.second_line_secret_env, SECRET)
    signer = SecondLineSigner(SECRET, time.time)

    async def start() -> RunningDaemon:
        rd = RunningDaemon(daemon_factory())
        await rd.start()
        return rd

    before = memberships(lab)
    assert before, "no queue members on the lab"
    rd = daemon_loop.run(start())
    findings: list[Finding] = []
    try:
        d = rd.daemon
        assert http_of(d).port is not None
        base_url = f"http://127.0.0.1:{http_of(d).port}"
        issued = {key: http_of(d).tokens.create(*who)[0] for key, who in PEOPLE.items()}
        ids = daemon_loop.run(seed_incidents(base_url, issued["supervisor"]))
        doc = daemon_loop.run(fetch_description(base_url))
        config = schemathesis_config(
            base_url=base_url,
            incident_ids=ids,
            agent_ids=[a.id for a in lab_config.agents],
            queue_names=[q.name for q in lab_config.queues],
            coverage=True,
        )
        schema = load_schema(doc, config)
        contract = Contract(schema, base_url, role, issued.get(role), signer)
        findings += contract.run(MAX_EXAMPLES)
        assert sorted(contract.sent) == described(doc), role
    finally:
        with contextlib.suppress(AMIError):
            daemon_loop.run(undo_lab_changes(rd.daemon, lab_config))
        daemon_loop.run(rd.shutdown())
        set_mode(lab, "open")
    assert memberships(lab) == before  # the lab is as the next test expects it
    assert not findings, summary(findings)
