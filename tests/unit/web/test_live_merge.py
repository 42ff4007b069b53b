"""One live view for several servers (web.live_merge): names that repeat are told apart
or merged, figures add up from counts and sums, remote clocks move on, stale servers go."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from callcenter.metrics import CallFigures
from callcenter.metrics.settings import MetricsConfig
from callcenter.web.live_delta import apply, assemble, diff, flatten
from callcenter.web.live_merge import ServerState, merge, raw_of
from callcenter.web.views import TICKING

CFG = MetricsConfig()
NOW = 1_000_000.0


def figures(answered: int, abandoned: int, wait_sum: float) -> CallFigures:
    return CallFigures(CFG, answered=answered, abandoned=abandoned, wait_count=answered,
                       wait_sum=wait_sum, answered_within_sl=answered)  # fmt: skip


def caller(uid: str, wait: float) -> dict[str, Any]:
    return {"uniqueid": uid, "position": 1, "caller_num": "03", "wait_seconds": wait}


def server(sid: str, at: float, waiting: list[dict[str, Any]], f: CallFigures,
           agent: str = "agent1") -> ServerState:  # fmt: skip
    return ServerState(
        sid,
        at,
        {
            "queues": [
                {"name": "support", "number": "1000", "waiting": waiting,
                 "waiting_count": len(waiting),
                 "longest_wait_seconds": max((w["wait_seconds"] for w in waiting), default=0.0),
                 "members": [{"agent_id": agent, "name": agent, "state": "idle"}],
                 "today": {}},
                {"name": f"only-{sid}", "number": "1001", "waiting": [], "waiting_count": 0,
                 "longest_wait_seconds": 0.0, "members": [], "today": {}},
            ],
            "agents": [{"id": agent, "name": agent, "state": "idle", "state_seconds": 5.0}],
            "parked": [{"slot": "701", "parked_seconds": 3.0}],
            "today": {"all": {}, "by_queue": {}, "coverage": None},
            "service_mode": {"mode": "open" if sid == "pbx1" else "closed"},
            "raw": {"all": raw_of(f), "by_queue": {"support": raw_of(f)}},
        },
    )  # fmt: skip


def merged(mode: str, *remotes: ServerState) -> dict[str, Any]:
    own = server("pbx1", NOW, [caller("1.1", 10.0)], figures(3, 1, 30.0))
    return merge(own, remotes, now=NOW, cfg=CFG, same_name_queues=mode,  # type: ignore[arg-type]
                 ticking=TICKING, stale_after=15.0)  # fmt: skip


def test_apart_names_the_repeated_queue_and_keys_by_server() -> None:
    other = server("pbx2", NOW - 2.0, [caller("1.1", 4.0)], figures(1, 1, 10.0))
    view = merged("apart", other)
    names = [q["name"] for q in view["queues"]]
    assert names == ["support@pbx1", "only-pbx1", "support@pbx2", "only-pbx2"]
    pbx2 = view["queues"][2]
    assert pbx2["server"] == "pbx2"
    # Its caller's wait moved on by the two seconds since pbx2 published.
    assert pbx2["waiting"][0]["wait_seconds"] == pytest.approx(6.0)
    # The same uniqueid on both PBXs and the same agent id: told apart.
    assert [a["id"] for a in view["agents"]] == ["agent1@pbx1", "agent1@pbx2"]
    assert [p["slot"] for p in view["parked"]] == ["701@pbx1", "701@pbx2"]
    assert view["today"]["by_queue"]["support@pbx2"]["answered"] == 1
    # Combined today: counts and sums added, the rates from them (not a mean of rates).
    assert view["today"]["all"]["answered"] == 4
    assert view["today"]["all"]["abandonment_rate"] == pytest.approx(2 / 6)
    assert view["today"]["all"]["asa_seconds"] == pytest.approx(40.0 / 4)
    assert view["service_mode"] == {"mode": "open"}  # this PBX's own
    assert [(s["id"], s["mode"], s["stale"]) for s in view["servers"]] == [
        ("pbx1", "open", False), ("pbx2", "closed", False)]  # fmt: skip


def test_merged_is_one_virtual_queue_longest_wait_first() -> None:
    other = server("pbx2", NOW - 1.0, [caller("9.9", 30.0)], figures(1, 1, 10.0), agent="bob")
    view = merged("merged", other)
    support = next(q for q in view["queues"] if q["name"] == "support")
    assert support["servers"] == ["pbx1", "pbx2"]
    assert [(w["uniqueid"], w["server"], w["position"]) for w in support["waiting"]] == [
        ("9.9", "pbx2", 1), ("1.1", "pbx1", 2)]  # fmt: skip
    assert support["waiting_count"] == 2
    assert support["longest_wait_seconds"] == pytest.approx(31.0)
    assert [m["agent_id"] for m in support["members"]] == ["agent1", "bob"]
    assert support["today"]["answered"] == 4
    assert view["today"]["by_queue"]["support"]["answered"] == 4


def test_a_stale_server_keeps_only_its_line() -> None:
    gone = server("pbx2", NOW - 60.0, [caller("2.2", 4.0)], figures(5, 0, 10.0))
    view = merged("apart", gone)
    assert [q["name"] for q in view["queues"]] == ["support", "only-pbx1"]
    assert view["today"]["all"]["answered"] == 3
    assert view["servers"][1] == {"id": "pbx2", "at": view["servers"][1]["at"],
                                  "stale": True, "mode": "closed"}  # fmt: skip


def test_the_servers_lines_change_at_most_once_a_second() -> None:
    # The own server's state is taken now: to the microsecond its line would change at
    # every snapshot, and go out with every delta to every wallboard.
    remote = server("pbx2", NOW - 0.5, [caller("2.2", 4.0)], figures(5, 0, 10.0))

    def at(now: float) -> dict[str, Any]:
        own = server("pbx1", now, [caller("1.1", 10.0)], figures(3, 1, 30.0))
        return merge(own, [remote], now=now, cfg=CFG, same_name_queues="apart",
                     ticking=TICKING, stale_after=15.0)  # fmt: skip

    first, later, next_second = at(NOW + 0.2), at(NOW + 0.7), at(NOW + 1.2)
    assert [s["at"] for s in first["servers"]] == [
        "1970-01-12T13:46:40+00:00", "1970-01-12T13:46:39+00:00"]  # fmt: skip
    assert diff(flatten(first), flatten(later), TICKING) == []
    assert [c["path"] for c in diff(flatten(later), flatten(next_second), TICKING)] == [
        ["servers"]]  # fmt: skip


@pytest.mark.parametrize("mode", ["apart", "merged"])
def test_the_view_shares_nothing_with_a_remote_state(mode: str) -> None:
    # The remote's state is kept between snapshots, and the view handed to the hub: a
    # change to one must never show in the other (the merge copies what it takes).
    remote = server("pbx2", NOW - 1.0, [caller("2.2", 4.0)], figures(5, 0, 10.0))
    before = copy.deepcopy(remote.sections)
    view = merged(mode, remote)
    (mine,) = [w for q in view["queues"] for w in q["waiting"] if w["server"] == "pbx2"]
    assert mine["wait_seconds"] == 5.0  # moved on by the second since
    for q in view["queues"]:
        q["waiting"].clear()
        for m in q["members"]:
            m["state"] = "gone"
    for a in view["agents"]:
        a["state"] = "gone"
    view["parked"][-1]["parked_seconds"] = -1.0
    assert remote.sections == before
    assert merged(mode, remote) == merged(mode, remote)


def test_the_merged_view_travels_as_deltas() -> None:
    """The keyed deltas (web.live_delta) carry the merged view: a caller joining on the
    other server is one change, and applying it gives the next view."""
    before = merged("apart", server("pbx2", NOW, [], figures(1, 0, 1.0)))
    after = merged("apart", server("pbx2", NOW, [caller("5.5", 1.0)], figures(1, 0, 1.0)))
    flat_before, flat_after = flatten(before), flatten(after)
    changes = diff(flat_before, flat_after, TICKING)
    assert [(c["op"], c["path"]) for c in changes] == [
        ("set", ["queues", "support@pbx2", "waiting", "5.5"])]  # fmt: skip
    assert assemble(apply(flat_before, changes)) == assemble(flat_after)
