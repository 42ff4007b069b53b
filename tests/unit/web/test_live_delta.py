"""The live websocket's deltas: only what changed, keyed; applied to a snapshot they give
the next snapshot (ticking fields aside), whatever happened in between; and the pages'
copy of the schema (static/common.js) is the server's."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from callcenter.web.live_delta import SCHEMA, LiveView, apply, assemble, diff, flatten, stable
from callcenter.web.views import TICKING

STATIC = Path(__file__).parents[3] / "callcenter" / "web" / "static"
AT = "2026-12-04T09:00:00+00:00"


def figures(calls: int = 0) -> dict[str, Any]:
    return {
        "calls": calls,
        "answered": calls,
        "abandonment_rate": 0.0,
        "targets": {"service_level": {"target": 0.8, "met": True, "at_risk": False}},
    }


def caller(uid: str, position: int, wait: float = 1.0) -> dict[str, Any]:
    return {
        "uniqueid": uid,
        "caller_num": "03" + uid[-4:],
        "caller_name": "",
        "position": position,
        "since": AT,
        "wait_seconds": wait,
    }


def member(agent: str | None, state: str = "free", name: str = "") -> dict[str, Any]:
    return {
        "agent_id": agent,
        "name": name or str(agent),
        "state": state,
        "state_since": AT,
        "state_seconds": 3.0,
        "paused": False,
        "paused_reason": "",
        "in_call_with": None,
        "call_seconds": None,
    }


def agent(agent_id: str, state: str = "free") -> dict[str, Any]:
    return {
        "id": agent_id,
        "name": agent_id.title(),
        "queues": ["support"],
        "state": state,
        "state_since": AT,
        "state_seconds": 3.0,
        "paused": False,
        "on_call": None,
    }


def board(waiting: int = 2) -> dict[str, Any]:
    today = figures(5)
    return {
        "queues": [
            {
                "name": "support",
                "number": "1000",
                "waiting": [caller(f"1700000000.{i}", i) for i in range(1, waiting + 1)],
                "waiting_count": waiting,
                "longest_wait_seconds": 1.0 if waiting else 0.0,
                "members": [member("agent1"), member("agent2"), member(None, name="Guest")],
                "today": copy.deepcopy(today),
            },
            {
                "name": "sales",
                "number": "1001",
                "waiting": [],
                "waiting_count": 0,
                "longest_wait_seconds": 0.0,
                "members": [],
                "today": figures(),
            },
        ],
        "agents": [agent("agent1"), agent("agent2")],
        "parked": [],
        "today": {
            "all": copy.deepcopy(today),
            "by_queue": {"support": copy.deepcopy(today), "sales": figures()},
            "coverage": {"complete": True, "uncovered": []},
        },
        "service_mode": {"managed": True, "mode": "open", "override": None},
    }


def renumber(queue: dict[str, Any]) -> None:
    for i, w in enumerate(queue["waiting"], start=1):
        w["position"] = i
    queue["waiting_count"] = len(queue["waiting"])
    queue["longest_wait_seconds"] = max((w["wait_seconds"] for w in queue["waiting"]), default=0.0)


def delta(before: dict[str, Any], after: dict[str, Any]) -> list[dict[str, Any]]:
    return diff(flatten(before), flatten(after), TICKING)


def applied(before: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    return assemble(apply(flatten(before), json.loads(json.dumps(changes))))


def same(a: Any, b: Any) -> bool:
    return bool(stable(a, TICKING) == stable(b, TICKING))


def test_a_snapshot_cut_into_units_assembles_back() -> None:
    s = board()
    assert assemble(flatten(s)) == s


def test_a_caller_who_joins_is_sent_alone() -> None:
    before = board()
    after = copy.deepcopy(before)
    q = after["queues"][0]
    q["waiting"].append(caller("1700000009.9", 3, wait=0.0))
    renumber(q)
    changes = delta(before, after)
    joined = {k: v for k, v in caller("1700000009.9", 3, wait=0.0).items() if k != "position"}
    # (the queue's count and longest wait follow from its callers: not sent)
    assert changes == [
        {"op": "set", "path": ["queues", "support", "waiting", "1700000009.9"], "value": joined},
    ]
    got = applied(before, changes)
    assert same(got, after)
    assert got["queues"][0]["waiting_count"] == 3


def test_a_caller_who_leaves_is_one_removal_and_the_others_move_up() -> None:
    before = board(waiting=3)
    after = copy.deepcopy(before)
    q = after["queues"][0]
    del q["waiting"][0]  # the first: everyone behind moves up, and is not resent for it
    renumber(q)
    changes = delta(before, after)
    assert changes == [
        {"op": "remove", "path": ["queues", "support", "waiting", "1700000000.1"]},
    ]
    got = applied(before, changes)
    assert got == after
    assert [w["position"] for w in got["queues"][0]["waiting"]] == [1, 2]


def test_an_agents_state_is_sent_as_the_fields_that_changed_with_its_clocks() -> None:
    before = board()
    after = copy.deepcopy(before)
    after["agents"][1] |= {"state": "on_call", "state_since": "2026-12-04T09:01:00+00:00"}
    after["agents"][1]["state_seconds"] = 0.0
    after["agents"][1]["on_call"] = {"caller_num": "0311", "linkedid": "1.1", "seconds": 0.0}
    after["queues"][0]["members"][1] |= {"state": "on_call", "state_seconds": 0.0}
    changes = delta(before, after)
    assert changes == [
        {
            "op": "merge",
            "path": ["queues", "support", "members", "agent2"],
            # (call_seconds, a clock, but null and still null: not sent)
            "value": {"state": "on_call", "state_seconds": 0.0},
        },
        {
            "op": "merge",
            "path": ["agents", "agent2"],
            "value": {
                "state": "on_call",
                "state_since": "2026-12-04T09:01:00+00:00",
                "state_seconds": 0.0,
                "on_call": after["agents"][1]["on_call"],
            },
        },
    ]
    assert applied(before, changes) == after


def test_the_clocks_alone_are_no_change() -> None:
    before = board()
    after = copy.deepcopy(before)
    after["queues"][0]["waiting"][0]["wait_seconds"] = 99.0
    after["queues"][0]["longest_wait_seconds"] = 99.0
    after["agents"][0]["state_seconds"] = 99.0
    assert delta(before, after) == []


def test_a_queues_today_is_sent_once_unless_it_differs() -> None:
    before = board()
    after = copy.deepcopy(before)
    after["queues"][1]["today"] = figures(1)  # not its by_queue figures: its own
    changes = delta(before, after)
    assert changes == [{"op": "set", "path": ["queues", "sales", "today"], "value": figures(1)}]
    assert applied(before, changes) == after
    assert applied(after, delta(after, before)) == before


def test_todays_figures_send_only_the_figures_that_moved() -> None:
    before = board()
    after = copy.deepcopy(before)
    for figs in (after["today"]["all"], after["today"]["by_queue"]["support"]):
        figs |= {"calls": 6, "answered": 6}
    after["queues"][0]["today"] |= {"calls": 6, "answered": 6}
    changes = delta(before, after)
    moved = {"calls": 6, "answered": 6}
    # (the queue's today is its by_queue figures: not sent twice)
    assert changes == [
        {"op": "merge", "path": ["today", "all"], "value": moved},
        {"op": "merge", "path": ["today", "by_queue", "support"], "value": moved},
    ]
    assert applied(before, changes) == after


def test_parked_calls_and_the_mode_by_slot_and_whole() -> None:
    before = board()
    after = copy.deepcopy(before)
    after["parked"] = [{"slot": "701", "caller_num": "0311", "parked_seconds": 0.0}]
    after["service_mode"]["mode"] = "closed"
    changes = delta(before, after)
    assert changes == [
        {"op": "set", "path": ["parked", "701"], "value": after["parked"][0]},
        {"op": "merge", "path": ["service_mode"], "value": {"mode": "closed"}},
    ]
    assert applied(before, changes) == after
    assert delta(after, before) == [
        {"op": "remove", "path": ["parked", "701"]},
        {"op": "merge", "path": ["service_mode"], "value": {"mode": "open"}},
    ]


def test_a_list_without_its_keys_goes_whole() -> None:
    before: dict[str, Any] = {"queues": [{"name": "support", "waiting": []}], "parked": []}
    after = copy.deepcopy(before)
    after["queues"][0]["waiting"] = [{"caller_num": "0311110001"}]  # no uniqueid
    changes = delta(before, after)
    assert changes == [
        {"op": "remove", "path": ["queues", "support", "waiting"]},
        {
            "op": "set",
            "path": ["queues", "support", "waiting"],
            "value": [{"caller_num": "0311110001"}],
        },
    ]
    assert applied(before, changes) == after
    assert applied(after, delta(after, before)) == before


def test_the_live_view_applies_in_sequence_and_refuses_a_gap() -> None:
    before, after = board(), board(waiting=1)
    view = LiveView()
    assert view.read({"type": "snapshot", "seq": 1, "at": AT, "data": before})
    assert view.read({"type": "incident", "seq": 2, "at": AT, "data": {}})
    assert not view.read({"type": "delta", "seq": 4, "at": AT, "changes": []})
    assert view.read({"type": "delta", "seq": 3, "at": AT, "changes": delta(before, after)})
    assert view.state == after


def test_a_delta_as_the_pages_are_handed_it_the_sections_it_touched_whole() -> None:
    before = board()
    after = copy.deepcopy(before)
    for figs in (after["today"]["all"], after["today"]["by_queue"]["support"]):
        figs["calls"] = 6
    after["queues"][0]["today"]["calls"] = 6
    view = LiveView()
    view.sections_of({"type": "snapshot", "seq": 1, "at": AT, "data": before})
    changes = delta(before, after)
    said = view.sections_of({"type": "delta", "seq": 2, "at": AT, "changes": changes})
    # today changed, and with it the queues (each queue's today is its by_queue figures)
    assert said == {
        "type": "update",
        "seq": 2,
        "at": AT,
        "data": {k: after[k] for k in ("queues", "today")},
    }


def test_the_pages_hold_the_servers_schema_and_ticking_keys() -> None:
    text = (STATIC / "common.js").read_text()
    schema = re.search(r"const LIVE_SCHEMA = (\{.*?\});\n", text, re.S)
    ticking = re.search(r"const TICKING = new Set\((\[.*?\])\);\n", text, re.S)
    assert schema is not None
    assert ticking is not None
    assert json.loads(schema[1]) == SCHEMA
    assert set(json.loads(ticking[1])) == TICKING


# -- any sequence of events ---------------------------------------------------------------

QUEUES = ("support", "sales")
AGENTS = ("agent1", "agent2", "agent3")
STATES = ("free", "ringing", "on_call", "paused", "logged_out")

event = st.one_of(
    st.tuples(st.just("join"), st.sampled_from(QUEUES), st.integers(1, 40)),
    st.tuples(st.just("leave"), st.sampled_from(QUEUES), st.integers(0, 10)),
    st.tuples(st.just("state"), st.sampled_from(AGENTS), st.sampled_from(STATES)),
    st.tuples(st.just("member"), st.sampled_from(QUEUES), st.sampled_from(AGENTS)),
    st.tuples(st.just("park"), st.integers(701, 704), st.booleans()),
    st.tuples(st.just("finish"), st.sampled_from(QUEUES), st.booleans()),
    st.tuples(st.just("mode"), st.sampled_from(("open", "closed", "lunch")), st.booleans()),
    st.tuples(st.just("tick"), st.floats(0, 100), st.booleans()),
    st.tuples(st.just("queue"), st.sampled_from(("billing", "sales")), st.booleans()),
)


def happen(s: dict[str, Any], ev: tuple[Any, ...]) -> None:
    kind, a, b = ev
    queues = {q["name"]: q for q in s["queues"]}
    if kind == "join" and a in queues:
        q = queues[a]
        uid = f"1700000{b:03d}.{len(q['waiting'])}"
        if all(w["uniqueid"] != uid for w in q["waiting"]):
            q["waiting"].append(caller(uid, 0, wait=0.0))
    elif kind == "leave" and a in queues and queues[a]["waiting"]:
        del queues[a]["waiting"][b % len(queues[a]["waiting"])]
    elif kind == "state":
        for x in s["agents"]:
            if x["id"] == a:
                x |= {"state": b, "state_since": AT[:-6] + f"{len(b)}+00:00", "state_seconds": 0}
                x["on_call"] = {"caller_num": "1", "seconds": 0.0} if b == "on_call" else None
        for q in s["queues"]:
            for m in q["members"]:
                if m["agent_id"] == a:
                    m["state"] = b
    elif kind == "member" and a in queues:  # log in (at the end) or out of the queue
        members = queues[a]["members"]
        here = [m for m in members if m["agent_id"] == b]
        if here:
            members.remove(here[0])
        else:
            members.append(member(b))
    elif kind == "park":
        slots = [p for p in s["parked"] if p["slot"] == str(a)]
        if slots:
            s["parked"].remove(slots[0])
        elif b:
            s["parked"].append({"slot": str(a), "parked_seconds": 0.0})
    elif kind == "finish" and a in queues:
        for figs in (s["today"]["all"], s["today"]["by_queue"][a], queues[a]["today"]):
            figs["calls"] += 1
            figs["answered"] += b
            figs["targets"]["service_level"]["at_risk"] = b
    elif kind == "mode":
        s["service_mode"] |= {"mode": a, "override": {"mode": a} if b else None}
    elif kind == "tick":
        for q in s["queues"]:
            q["longest_wait_seconds"] = a
            for w in q["waiting"]:
                w["wait_seconds"] = a
    elif kind == "queue":
        if a in queues:
            if len(queues) > 1:
                s["queues"].remove(queues[a])
                s["today"]["by_queue"].pop(a, None)
        else:
            new = {"name": a, "number": "1009", "waiting": [], "members": [member("agent3")]}
            new |= {"waiting_count": 0, "longest_wait_seconds": 0.0, "today": figures()}
            s["queues"].insert(0 if b else len(s["queues"]), new)
            s["today"]["by_queue"][a] = figures()
    for q in s["queues"]:
        q["waiting"].sort(key=lambda w: w["uniqueid"]) if kind == "join" and b % 7 == 0 else None
        renumber(q)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(event, min_size=1, max_size=4), max_size=25))
def test_deltas_applied_to_a_snapshot_give_the_fresh_snapshot(bursts: list[list[Any]]) -> None:
    state = board()
    view = LiveView()
    view.read({"type": "snapshot", "seq": 1, "at": AT, "data": copy.deepcopy(state)})
    last = flatten(copy.deepcopy(state))
    for seq, burst in enumerate(bursts, start=2):
        for ev in burst:
            happen(state, ev)
        now = flatten(copy.deepcopy(state))  # (units are the snapshot's own parts)
        changes = json.loads(json.dumps(diff(last, now, TICKING)))
        assert view.read({"type": "delta", "seq": seq, "at": AT, "changes": changes})
        assert same(view.state, state)
        # Only what changed: an unchanged unit is never sent (but for its clocks, when
        # what is under it changed: a queue's longest wait).
        for c in changes:
            if c["op"] == "set" or (c["op"] == "merge" and not set(c["value"]) <= TICKING):
                path = tuple(c["path"])
                assert path not in last.units or not same(last.units[path], now.units[path])
        last = now


def test_a_flat_changed_by_apply_is_diffed_as_it_is_now_not_as_it_was() -> None:
    # diff keeps each unit's stable form for the next diff; apply changes the units in
    # place, so what diff kept must not outlive it.
    first, second = board(2), board(3)
    second["queues"][0]["waiting"][0]["caller_num"] = "0399990000"
    flat = flatten(first)
    changes = diff(flat, flatten(second), TICKING)
    apply(flat, json.loads(json.dumps(changes)))
    assert diff(flat, flatten(copy.deepcopy(second)), TICKING) == []
