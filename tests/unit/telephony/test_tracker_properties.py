"""Random but valid interleaved calls: one record each, with the outcome docs/metrics.md gives.

Each call is a plan of steps (ticks of 0.5 s, so every time is exact in binary): arrive,
maybe enter the dialplan, IVR choices, the busy announcement, a queue with agents that
do not answer, then an answer (with holds, parks, transfers) or a routing by the
dialplan or a hang-up. The expected record is worked out from the plan alone, with the
outcome order of docs/metrics.md written out again here (not by calling ``classify``).
Some plans are internal calls (an agent's phone, context ``from-agents``): no record.
Some runs also reconnect in the middle, with a snapshot that shows exactly what the
events said: that resync must change nothing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from callcenter.telephony.calls import AbandonStage, CallRecord, Outcome
from callcenter.telephony.tracker import CallTracker

from .events import AGENT1, AGENT2, AGENT3, T0, CallScript, Pbx, merged, snapshot

AGENTS = {a.endpoint: a for a in (AGENT1, AGENT2, AGENT3)}
TICK = 0.5
ROUTES = {  # the dialplan's Stage -> the outcome docs/metrics.md names
    "transfer_out": Outcome.TRANSFERRED_OUT,
    "voicemail": Outcome.VOICEMAIL,
    "callback": Outcome.CALLBACK,
}
CALLERS = [("0312345678", "山田 太郎"), ("09012345678", "John Smith"), ("0924445555", "<unknown>")]


@dataclass(frozen=True)
class Op:
    tick: int
    name: str
    arg: str = ""


@dataclass
class Plan:
    inbound: bool
    caller: int
    ops: list[Op] = field(default_factory=list)


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    plan = Plan(inbound=draw(st.integers(0, 5)) > 0, caller=draw(st.integers(0, 2)))
    tick = draw(st.integers(0, 120))
    plan.ops.append(Op(tick, "arrive"))
    pace = draw(st.sampled_from([1, 4, 16]))  # most ticks between steps: quick or slow calls

    def step(name: str, arg: str = "") -> None:
        nonlocal tick
        tick += draw(st.integers(0, pace))
        plan.ops.append(Op(tick, name, arg))

    queue = draw(st.sampled_from(["support", "sales"]))

    def agent() -> str:
        return draw(st.sampled_from(sorted(AGENTS)))

    if draw(st.booleans()):
        step("entered", queue)
    for _ in range(draw(st.integers(0, 3))):
        step("ivr", f"{draw(st.sampled_from(['main', 'billing']))}:{draw(st.integers(0, 9))}")
    if draw(st.integers(0, 9)) == 0:
        step("after_hours")
        step("hangup")
        return plan
    if draw(st.booleans()):
        step("busy", queue)
        if draw(st.booleans()):
            step("busy", queue)  # the announcement repeats
    end = draw(
        st.sampled_from(["answer", "answer", "answer", "abandon", "abandon", *ROUTES, "ended"])
    )
    if end == "answer" or draw(st.booleans()):
        step("join", queue)
        for _ in range(draw(st.integers(0, 2))):
            a = agent()
            step("ring", a)
            step("no_answer", a)
    if end in ROUTES:
        step(end)
        if draw(st.booleans()):
            step("ended", "after_" + end)
        step("hangup")
        return plan
    if end == "ended":
        step("ended", "queue_timeout")
        step("hangup")
        return plan
    if end == "abandon":
        step("hangup")
        return plan

    first = agent()
    step("ring", first)
    step("connect", first)
    held = False
    for _ in range(draw(st.integers(0, 5))):
        action = draw(
            st.sampled_from(
                [
                    *("hold", "hold", "park", "park", "blind", "blind_fail"),
                    *("attended", "attended_fail", "blind_queue", "vm_after"),
                ]
            )
        )
        if action == "hold":
            if held:
                step("unhold")
            step("hold")
            held = draw(st.booleans())
            if not held:
                step("unhold")
        elif action == "park":
            step("park")
            held = False
            after = draw(st.sampled_from(["unpark", "park_timeout", "park_give_up"]))
            step(after, agent())
            if after == "park_give_up":
                return plan  # the caller hung up in the parking lot
        elif action in ("blind", "attended", "blind_queue"):
            step(
                action, {"blind": "2001", "attended": "0355550000", "blind_queue": "sales"}[action]
            )
            held = False
            if action == "blind_queue":
                step("join", "sales")
                second = agent()
                step("ring", second)
                step("connect", second)
        elif action in ("blind_fail", "attended_fail"):
            step(action, "2999")
        else:  # vm_after: the agent sends the caller to voicemail; nobody is on the line
            step("vm_after", "vm")
            step("hangup")
            return plan
    if not held and draw(st.integers(0, 2)) == 0:
        step("hold")  # still on hold at the end
    step(draw(st.sampled_from(["hangup", "agent_hangup"])))
    return plan


def build(pbx: Pbx, plan: Plan, *, timestamps: bool, lag: float) -> CallScript:
    num, name = CALLERS[plan.caller]
    call = pbx.call(
        num,
        name,
        context="from-trunk" if plan.inbound else "from-agents",
        timestamps=timestamps,
        lag=lag,
    )
    for op in plan.ops:
        at = op.tick * TICK
        if op.name == "arrive":
            call.arrive(at)
        elif op.name in ("entered", "busy", "join"):
            getattr(call, op.name)(at, op.arg)
        elif op.name == "ivr":
            menu, choice = op.arg.split(":")
            call.ivr(at, menu, choice)
        elif op.name in ("ring", "no_answer", "connect", "unpark"):
            getattr(call, op.name)(AGENTS[op.arg], at)
        elif op.name == "ended":
            call.ended(at, op.arg)
        elif op.name in ("blind", "blind_fail"):
            call.blind_transfer(at, op.arg, result="Fail" if op.name == "blind_fail" else "Success")
        elif op.name in ("blind_queue", "vm_after"):
            call.blind_transfer(at, op.arg, rings=False)
            if op.name == "vm_after":
                call.voicemail(at)
        elif op.name in ("attended", "attended_fail"):
            result = "Fail" if op.name == "attended_fail" else "Success"
            call.attended_transfer(at, op.arg, result=result)
        else:  # after_hours, routes, hold, unhold, park, park_timeout, give up, hang-ups
            getattr(call, op.name)(at)
    return call


@dataclass
class Expected:
    outcome: Outcome
    stage: AbandonStage | None
    arrived: float
    ended: float
    answered: float | None
    agent: str | None
    queued: float | None
    busy: float | None
    ivr_path: list[str]
    hold: float
    park: float
    parks: int
    transfers: list[tuple[str, float, str]]


def expect(plan: Plan, short_abandon_seconds: float) -> Expected:
    """The record docs/metrics.md says the plan must give, worked out independently."""
    ops = plan.ops

    def first(*names: str) -> Op | None:
        return next((op for op in ops if op.name in names), None)

    def t(op: Op | None) -> float | None:
        return None if op is None else T0 + op.tick * TICK

    arrived, ended = T0 + ops[0].tick * TICK, T0 + ops[-1].tick * TICK
    connect = first("connect")
    before_answer = ops if connect is None else ops[: ops.index(connect)]
    routed = [op.name for op in before_answer if op.name in ROUTES]
    hold = park = 0.0
    held_since: float | None = None
    parked_since: float | None = None
    transfers: list[tuple[str, float, str]] = []
    for op in ops:
        at = T0 + op.tick * TICK
        # A hold ends at Unhold, or when the held (agent's) channel leaves, or at the end.
        leg_leaves = op.name in ("park", "blind", "attended", "blind_queue", "vm_after")
        if held_since is not None and (op.name == "unhold" or leg_leaves or op is ops[-1]):
            hold += at - held_since
            held_since = None
        if op.name == "hold":
            held_since = at
        if parked_since is not None:  # the next step after a park resolves it
            park += at - parked_since
            parked_since = None
        if op.name == "park":
            parked_since = at
        if op.name in ("blind", "blind_queue", "vm_after"):
            transfers.append(("blind", at, op.arg))
        if op.name == "attended":
            transfers.append(("attended", at, op.arg))
        if op.name == "transfer_out" and any(o is op for o in before_answer):
            # The dialplan sends the caller on (an IVR choice); the script's one target.
            transfers.append(("routed", at, "0120000000"))

    stage: AbandonStage | None = None
    if first("after_hours"):
        outcome = Outcome.AFTER_HOURS
    elif connect is not None:
        outcome = Outcome.ANSWERED
    elif routed:
        outcome = ROUTES[routed[-1]]
    elif first("ended"):
        outcome = Outcome.FAILED
    else:
        if first("busy"):
            stage = AbandonStage.BUSY
        elif first("join"):
            stage = AbandonStage.QUEUE
        else:
            stage = AbandonStage.IVR
        short = ended - arrived < short_abandon_seconds
        outcome = Outcome.SHORT_ABANDONED if short else Outcome.ABANDONED
    return Expected(
        outcome=outcome,
        stage=stage,
        arrived=arrived,
        ended=ended,
        answered=t(connect),
        agent=None if connect is None else AGENTS[connect.arg].name,
        queued=t(first("join")),
        busy=t(first("busy")),
        ivr_path=[op.arg for op in ops if op.name == "ivr"],
        hold=hold,
        park=park,
        parks=sum(op.name == "park" for op in ops),
        transfers=transfers,
    )


def check_record(rec: CallRecord, exp: Expected) -> None:
    assert rec.outcome is exp.outcome
    assert rec.abandon_stage is exp.stage
    assert (rec.arrived_at, rec.ended_at) == (exp.arrived, exp.ended)
    assert (rec.answered_at, rec.agent) == (exp.answered, exp.agent)
    assert (rec.queued_at, rec.busy_at) == (exp.queued, exp.busy)
    assert rec.ivr_path == exp.ivr_path
    assert rec.hold_seconds == exp.hold
    assert (rec.parks, rec.park_seconds) == (exp.parks, exp.park)
    assert [(x.kind, x.at, x.target) for x in rec.transfers] == exp.transfers
    assert not rec.estimated
    # Invariants of any record.
    assert rec.wait_seconds is not None
    assert rec.wait_seconds >= 0
    assert (rec.abandon_stage is not None) == (
        rec.outcome in (Outcome.ABANDONED, Outcome.SHORT_ABANDONED)
    )
    if rec.outcome is Outcome.ANSWERED:
        assert rec.answered_at is not None
        assert rec.ended_at is not None
        assert rec.answered_at <= rec.ended_at
        assert rec.talk_seconds is not None
        assert 0 <= rec.talk_seconds <= (rec.handle_seconds or 0)
    else:
        assert rec.answered_at is None


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    call_plans=st.lists(plans(), min_size=1, max_size=6),
    threshold=st.integers(0, 20).map(lambda n: n * TICK),
    timestamps=st.booleans(),
    lag=st.sampled_from([0.0, 0.3, 2.0]),
    reconnect=st.none() | st.integers(0, 250),
)
def test_every_call_gets_exactly_its_one_outcome(
    call_plans: list[Plan],
    threshold: float,
    timestamps: bool,
    lag: float,
    reconnect: int | None,
) -> None:
    pbx = Pbx()
    scripts = [build(pbx, p, timestamps=timestamps, lag=lag) for p in call_plans]
    inbound = {s.linkedid: p for s, p in zip(scripts, call_plans, strict=True) if p.inbound}
    tracker = CallTracker("lab", short_abandon_seconds=threshold)

    records: list[CallRecord] = []
    steps = merged(*scripts)
    cut = len(steps) if reconnect is None else sum(s.at <= T0 + reconnect * TICK for s in steps)
    for step in steps[:cut]:
        if (rec := tracker.feed(step.event, step.received)) is not None:
            records.append(rec)
    if reconnect is not None:
        # Reconnected without losing anything: a faithful snapshot changes nothing.
        now = reconnect * TICK
        channels, queues = snapshot(scripts, now)
        assert tracker.resync(channels, queues, now=T0 + now, pbx_restarted=False) == []
        assert set(tracker.calls) <= set(inbound)
    for step in steps[cut:]:
        if (rec := tracker.feed(step.event, step.received)) is not None:
            records.append(rec)

    # Every inbound call that started finished exactly once; nothing else did.
    assert tracker.calls == {}
    assert Counter(r.linkedid for r in records) == Counter(list(inbound))
    for rec in records:
        check_record(rec, expect(inbound[rec.linkedid], threshold))

    # Exactly one outcome per call, and the figures built on them hold together.
    by_outcome = Counter(r.outcome for r in records)
    assert sum(by_outcome.values()) == len(records) == len(inbound)
    total_incoming = len(records) - sum(
        by_outcome[o] for o in (Outcome.AFTER_HOURS, Outcome.UNKNOWN, Outcome.SHORT_ABANDONED)
    )
    busy = sum(r.outcome is Outcome.ANSWERED and r.heard_busy for r in records)
    abandoned = by_outcome[Outcome.ABANDONED]
    assert abandoned + busy <= total_incoming
    if total_incoming:
        assert 0 <= abandoned / total_incoming <= 1
        assert 0 <= busy / total_incoming <= 1
    else:
        assert abandoned == busy == 0
