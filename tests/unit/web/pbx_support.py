"""The PBX side of the API without a PBX: a live state fed with hand-made AMI events (the
header sets of the lab Asterisk 16.28, as tests/unit/calls/events.py and
tests/unit/agents/fakes.py have them), a fake AMI that records actions and can play the
PBX's answering events, and ``PbxDeps`` over them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from callcenter.agents import AgentService
from callcenter.ami import AMIActionError, AMIError, Message
from callcenter.ami.protocol import HeaderValue
from callcenter.calls import CallControl
from callcenter.config import Config
from callcenter.dialplan.settings import AgentConfig, QueueConfig, TransferTargetConfig
from callcenter.metrics import CallFigures
from callcenter.metrics.settings import MetricsConfig
from callcenter.schedule.mode import ModeKeeper
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.live import LiveState
from callcenter.web.deps import PbxDeps
from tests.unit.agents.fakes import member_event
from tests.unit.calls.events import (
    AGENT1_LEG,
    AGENT1_UID,
    BRIDGE,
    CALLER,
    CALLER_UID,
    T0,
    bridged,
    hangup,
    newchannel,
    newstate,
    parked_call,
)

Event = dict[str, str]

AGENTS = (
    AgentConfig(id="agent1", name="Agent 1", queues=("support",), contact="sip:a1@127.0.0.1:5071"),
    AgentConfig(
        id="agent2", name="山田 太郎", queues=("support", "small"), contact="sip:a2@127.0.0.1:5072"
    ),
)
QUEUES = (QueueConfig(name="support", number="1000"), QueueConfig(name="small", number="1001"))
CFG = Config(
    queues=QUEUES,
    agents=AGENTS,
    transfer_targets=(
        TransferTargetConfig(name="second-line", number="8001", label="二次サポート"),
    ),
)
METRICS = MetricsConfig()

__all__ = [
    "AGENT1_LEG",
    "AGENT1_UID",
    "CALLER",
    "CALLER_UID",
    "T0",
    "hangup",
    "newchannel",
    "newstate",
    "parked_call",
]


def joined(
    queue: str, uid: str, num: str, name: str, position: int = 1, channel: str = ""
) -> Event:
    """QueueCallerJoin as app_queue sends it (the caller's channel snapshot and Position)."""
    return {
        "Event": "QueueCallerJoin",
        "Channel": channel or f"PJSIP/trunk-{uid[-4:]}",
        "Uniqueid": uid,
        "Linkedid": uid,
        "CallerIDNum": num,
        "CallerIDName": name,
        "Queue": queue,
        "Position": str(position),
        "Count": str(position),
    }


def left(queue: str, uid: str) -> Event:
    return {"Event": "QueueCallerLeave", "Queue": queue, "Uniqueid": uid, "Position": "1"}


def member(
    queue: str, agent: str, *, status: str = "1", paused: bool = False, reason: str = ""
) -> Event:
    name = next(a.name for a in AGENTS if a.id == agent)
    return member_event(
        "QueueMemberStatus",
        queue,
        f"PJSIP/{agent}",
        name,
        status=status,
        paused=paused,
        reason=reason,
    )


def caller_arrives(uid: str, num: str, name: str, channel: str = "") -> Event:
    return newchannel(
        channel or f"PJSIP/trunk-{uid[-4:]}", uid, uid, num, name, "from-trunk", "1000"
    )


def live_with(*events: Mapping[str, str]) -> LiveState:
    live = LiveState()
    for ev in events:
        live.apply(ev)
    return live


def talking_events() -> list[Event]:
    """A caller on 1000 answered by agent1 (tests/unit/calls/events.py), waiting first."""
    return [
        member("support", "agent1"),
        member("support", "agent2"),
        member("small", "agent2"),
        newchannel(CALLER, CALLER_UID, CALLER_UID, "0311110001", "駐車 太郎", "from-trunk", "1000"),
        newstate(CALLER, CALLER_UID, CALLER_UID),
        joined("support", CALLER_UID, "0311110001", "駐車 太郎", channel=CALLER),
        newchannel(AGENT1_LEG, AGENT1_UID, CALLER_UID, "agent1", "Agent 1", "from-agents", "s"),
        newstate(AGENT1_LEG, AGENT1_UID, CALLER_UID, "Ringing"),
        left("support", CALLER_UID),
        newstate(AGENT1_LEG, AGENT1_UID, CALLER_UID),
        *bridged(BRIDGE, CALLER, CALLER_UID, AGENT1_LEG, AGENT1_UID),
        member("support", "agent1", status="2"),
    ]


Then = Callable[[dict[str, str]], list[Event]]


@dataclass
class FakePbx:
    """The AMI for AgentService and CallControl: records each action, answers Success,
    or refuses as told (action -> Asterisk's message, or an AMIError to raise); ``then``
    plays the events the PBX would send after an action into the live state."""

    live: LiveState
    sent: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    refuse: dict[str, str | AMIError] = field(default_factory=dict)
    then: dict[str, Then] = field(default_factory=dict)

    async def action(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
    ) -> Message:
        h = {k: str(v) for k, v in (headers or {}).items()}
        self.sent.append((action, h))
        answer = self.refuse.get(action)
        if isinstance(answer, AMIError):
            raise answer
        if answer is not None:
            raise AMIActionError(action, answer)
        then = self.then.get(action)
        for ev in then(h) if then is not None else []:
            self.live.apply(ev)
        return Message(Response="Success", Message="ok")

    def actions(self) -> list[str]:
        return [a for a, _ in self.sent]


def figures(queue: str | None = None, *, answered: int = 9, abandoned: int = 1) -> CallFigures:
    """Made-up figures: ``answered`` (within the service level) and ``abandoned`` calls."""
    if queue == "small":
        return CallFigures(METRICS)
    return CallFigures(
        METRICS,
        answered=answered,
        abandoned=abandoned,
        answered_within_sl=answered,
        wait_count=answered,
        wait_sum=5.0 * answered,
        handle_count=answered,
        handle_sum=120.0 * answered,
        max_wait_seconds=12.0 if answered else None,
    )


def make_deps(
    live: LiveState,
    *,
    pbx: FakePbx | None = None,
    today: Callable[[str | None], CallFigures] = figures,
    keeper: ModeKeeper | None = None,
    records: dict[str, CallRecord] | None = None,
    cfg: Config = CFG,
) -> PbxDeps:
    client = pbx or FakePbx(live)
    return PbxDeps(
        cfg=cfg,
        live=live,
        agents=AgentService(client, live, cfg.agents, cfg.queues),
        calls=CallControl(
            client,
            live,
            cfg.agents,
            targets=cfg.transfer_targets,
            park_confirm_seconds=0.5,
        ),
        today_figures=today,
        service_mode=keeper,
        open_calls=(lambda: records) if records is not None else None,
    )


def record(linkedid: str, *, arrived: float, queued: float | None = None) -> CallRecord:
    return CallRecord(server_id="lab", linkedid=linkedid, arrived_at=arrived, queued_at=queued)


PARKED = parked_call("701", at=T0 + 10.0)
