"""One live state for every server of the database: this daemon's own, and what the
others last published (callcenter.web.live_cluster), merged into the sections the live
websocket pushes. Pure: the same states always give the same view.

The rules:

* Each server's items (queues, waiting callers, members, agents, parked calls) carry
  ``server``. A key that repeats across servers (two PBXs' "support" queue, their
  "agent1", their parking slot 701) is written ``key@server`` on every server's item, so
  no item hides another and none changes name when a third server comes.
* With ``same_name_queues = "merged"``, the queues of one name are one virtual queue: its
  callers and members together (callers by how long they have waited, the longest
  first), its counts and today's figures added up.
* Today's figures add up from each server's counts and sums (``raw``), never from its
  rates: a rate of rates would weigh a quiet server like a busy one.
* A remote's elapsed seconds were as of its ``at``: they are moved on to ``now``.
* A server not heard of for ``stale_after`` seconds keeps only its line in ``servers``
  (stale): its callers may long have gone. Each line's ``at`` (when that state was
  taken) is to the second.
* The service mode stays this PBX's (it is switched per PBX); ``servers`` shows each
  one's.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Literal

from callcenter.metrics import CallFigures, combine
from callcenter.metrics.settings import MetricsConfig
from callcenter.web.views import figures_dict

Raw = dict[str, Any]  # CallFigures' counts and sums, without its settings


def raw_of(f: CallFigures) -> Raw:
    return {x.name: getattr(f, x.name) for x in fields(f) if x.name != "cfg"}


def figures_of(raw: Mapping[str, Any], cfg: MetricsConfig) -> CallFigures:
    names = {x.name for x in fields(CallFigures)} - {"cfg"}
    return CallFigures(cfg, **{k: v for k, v in raw.items() if k in names})


@dataclass(frozen=True)
class ServerState:
    """One server's sections as published: queues, agents, parked, service_mode and
    ``raw`` ({"all": Raw, "by_queue": {queue: Raw}}), taken at ``at``."""

    server_id: str
    at: float
    sections: Mapping[str, Any]


_NUMBERS = frozenset({int, float})
_OTHER_SCALARS = frozenset({str, bool, type(None)})


def shifted(value: Any, by: float, ticking: Collection[str]) -> Any:
    """``value`` with every number under a ``ticking`` key moved on by ``by`` seconds: a
    copy, each of its dicts and lists a new one."""
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            kind = type(v)
            if kind in _NUMBERS:  # (bool is not among them: a flag is no clock)
                out[k] = round(v + by, 3) if k in ticking else v
            elif kind in _OTHER_SCALARS:  # most values: taken without a call
                out[k] = v
            else:
                out[k] = shifted(v, by, ticking)
        return out
    if isinstance(value, list):
        return [shifted(v, by, ticking) for v in value]
    return value


def _repeated(keys: Iterable[str | None]) -> set[str]:
    return {k for k, n in Counter(k for k in keys if k is not None).items() if n > 1}


def _tagged(
    items: list[tuple[str, dict[str, Any]]], field: str, *, also: Collection[str] = ()
) -> list[dict[str, Any]]:
    """The (server, item) pairs as items that carry their server, a key that repeats
    across servers (or is in ``also``) written key@server."""
    repeated = _repeated(
        str(i[field]) if i.get(field) is not None else None for _, i in items
    ) | set(also)
    out = []
    for server, item in items:
        item = {**item, "server": server}
        key = item.get(field)
        if key is not None and str(key) in repeated:
            item[field] = f"{key}@{server}"
        out.append(item)
    return out


def merge(
    own: ServerState,
    remotes: Iterable[ServerState],
    *,
    now: float,
    cfg: MetricsConfig,
    same_name_queues: Literal["apart", "merged"],
    ticking: Collection[str],
    stale_after: float,
) -> dict[str, Any]:
    """The live sections of every server: own first, then the others by id."""
    others = sorted(remotes, key=lambda s: s.server_id)
    fresh = [s for s in others if now - s.at <= stale_after and s.server_id != own.server_id]
    # shifted() builds every dict and list anew: what is merged never shares one with a
    # remote's state as read (a deep copy first cost as much again: 1.3 ms of 3.2 ms for
    # 175 callers, on every snapshot of the hub).
    states = [own, *(ServerState(s.server_id, s.at, shifted(s.sections, now - s.at, ticking))
                     for s in fresh)]  # fmt: skip
    sections: dict[str, Any] = {}
    queues, by_queue = _queues(states, cfg, same_name_queues)
    sections["queues"] = queues
    sections["agents"] = _tagged(
        [(s.server_id, a) for s in states for a in s.sections.get("agents", [])], "id"
    )
    sections["parked"] = _tagged(
        [(s.server_id, p) for s in states for p in s.sections.get("parked", [])], "slot"
    )
    raw_all = [figures_of(s.sections["raw"]["all"], cfg) for s in states if "raw" in s.sections]
    today = dict(own.sections.get("today") or {})
    today["all"] = figures_dict(combine(raw_all, cfg))
    today["by_queue"] = by_queue
    sections["today"] = today
    sections["service_mode"] = own.sections.get("service_mode")
    # Each server's ``at`` to the whole second: to the microsecond, the own one (now)
    # changed at every snapshot and was sent in every delta (bench/live_cluster: ~6 kB/s
    # of a wallboard's 25), for a line whose use is to say which server went quiet.
    sections["servers"] = [
        {
            "id": s.server_id,
            "at": datetime.fromtimestamp(int(s.at), UTC).isoformat(),
            "stale": now - s.at > stale_after and s is not own,
            "mode": (s.sections.get("service_mode") or {}).get("mode"),
        }
        for s in [own, *(o for o in others if o.server_id != own.server_id)]
    ]
    return sections


def _queues(
    states: list[ServerState], cfg: MetricsConfig, mode: Literal["apart", "merged"]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The queues, and today's figures by the name each is shown under."""

    def raw(state: ServerState, name: str) -> CallFigures:
        got = state.sections.get("raw", {}).get("by_queue", {}).get(name)
        return figures_of(got, cfg) if got is not None else CallFigures(cfg)

    pairs = [(s, q) for s in states for q in s.sections.get("queues", [])]
    if mode == "apart":
        shown = _tagged([(s.server_id, q) for s, q in pairs], "name")
        by_queue = {}
        for (state, q), item in zip(pairs, shown, strict=True):
            figures = figures_dict(raw(state, q["name"]))
            item["today"] = figures
            by_queue[item["name"]] = figures
            item["members"] = _tagged(
                [(state.server_id, m) for m in q.get("members", [])], "agent_id"
            )
            item["waiting"] = _tagged(
                [(state.server_id, w) for w in q.get("waiting", [])], "uniqueid"
            )
        return shown, by_queue
    groups: dict[str, list[tuple[ServerState, dict[str, Any]]]] = {}
    for s, q in pairs:
        groups.setdefault(q["name"], []).append((s, q))
    out, by_queue = [], {}
    for name, members_of in groups.items():
        waiting = _tagged(
            [(s.server_id, w) for s, q in members_of for w in q.get("waiting", [])], "uniqueid"
        )
        waiting.sort(key=lambda w: -(w.get("wait_seconds") or 0.0))
        for i, w in enumerate(waiting, start=1):
            w["position"] = i
        waits = [w["wait_seconds"] for w in waiting if w.get("wait_seconds") is not None]
        figures = figures_dict(combine((raw(s, name) for s, _ in members_of), cfg))
        by_queue[name] = figures
        first = members_of[0][1]
        out.append(
            {
                **first,
                "name": name,
                "servers": [s.server_id for s, _ in members_of],
                "waiting": waiting,
                "waiting_count": len(waiting),
                "longest_wait_seconds": max(waits, default=0.0),
                "members": _tagged(
                    [(s.server_id, m) for s, q in members_of for m in q.get("members", [])],
                    "agent_id",
                ),
                "today": figures,
            }
        )
    return out, by_queue
