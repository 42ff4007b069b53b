"""The live websocket's deltas: the live state as keyed units, and what changed between two.

A snapshot (``views.snapshot``: queues, agents, parked, today, service_mode) is cut into
*units*, each addressed by a path of keys, never by a list index:

* the items of the keyed lists (``LISTS``): a queue by its name, a waiting caller by its
  uniqueid within its queue, a member by its agent id (``~`` and its name when it has
  none), an agent by its id, a parked call by its slot. A queue's unit is its head (name,
  number, counts): its waiting callers, its members and its ``today`` are units of their
  own. A waiting caller's ``position`` is not sent: it is its place in the list, from 1.
* the keys of the split dicts (``SPLIT``): today's ``all``, ``coverage`` and each queue
  in ``by_queue``; a queue's ``today``, which is its ``by_queue`` figures, is held as
  ``{"$same": ["today", "by_queue", name]}`` (``SAME``): sent once, not twice; and its
  ``waiting_count`` and ``longest_wait_seconds`` as the rules that give them from its
  waiting callers (``DERIVED``), so that a caller who joins or leaves is one change;
* every other section whole (``service_mode``), and any part whose shape is not the one
  expected (a list without its keys): whole, at its path.

The order of each keyed list and the keys of each split dict are the *containers*.

A delta is a list of changes, applied in order::

    {"op": "remove", "path": P}             the unit or container at P goes, with all under
                                            it (and its key from its parent's order)
    {"op": "set",    "path": P, "value": V} the unit at P is V (a new key: appended to the
                                            parent's order)
    {"op": "merge",  "path": P, "value": V} the unit at P (an object) takes V's fields
    {"op": "order",  "path": P, "keys": K}  the container at P holds K, in that order (a
                                            new container, or keys that moved)

A unit's ``ticking`` fields (elapsed seconds) are left out of the comparison; a unit that
is sent carries all of them as of the message's ``at`` (a merge includes each field that
holds a running one), so a client keeps one ``at`` per unit and counts on from there. A queue whose
waiting callers changed is sent its ticking fields afresh (the longest wait may be
someone else's now).

``apply`` and ``assemble`` are the client's side: ``assemble(apply(flatten(snapshot),
delta))`` equals, ticking fields aside, the next snapshot. ``static/common.js`` does the
same in the pages (its ``LIVE_SCHEMA`` is ``SCHEMA``; a test checks they agree).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

Path = tuple[str, ...]

# Keyed lists: path pattern -> the fields a key is taken from (the first that is set; a
# later one is marked with "~" so that it cannot be taken for the first's value).
LISTS: dict[str, tuple[str, ...]] = {
    "queues": ("name",),
    "queues/*/waiting": ("uniqueid",),
    "queues/*/members": ("agent_id", "name"),
    "agents": ("id",),
    "parked": ("slot",),
}
# Keyed lists whose items number their place (from 1): not sent, put back by assemble.
POSITIONS: dict[str, str] = {"queues/*/waiting": "position"}
# Fields of a list's item that are units of their own (besides its keyed lists).
OWN_UNITS: frozenset[str] = frozenset({"queues/*/today"})
# Dicts whose keys are units (or split again) of their own.
SPLIT: frozenset[str] = frozenset({"today", "today/by_queue"})
# Units that are, as a rule, another's copy (a queue's today is today's by_queue/<queue>):
# then held as {"$same": that path} ("$1": the unit's path[1]), and not sent twice.
SAME: dict[str, tuple[str, ...]] = {"queues/*/today": ("today", "by_queue", "$1")}
# Fields of a list's item that follow from its lists, as a rule (a queue's waiting_count is
# how many wait, its longest_wait_seconds the longest wait_seconds, 0 without any): held
# as {"$count": list} or {"$max": [list, field]}, put back by assemble, never sent.
DERIVED: dict[str, dict[str, Any]] = {
    "queues/*": {
        "waiting_count": {"$count": "waiting"},
        "longest_wait_seconds": {"$max": ["waiting", "wait_seconds"]},
    }
}
# All of it, as JSON for the pages (static/common.js holds the same).
SCHEMA: dict[str, Any] = {
    "lists": {k: list(v) for k, v in LISTS.items()},
    "positions": POSITIONS,
    "own_units": sorted(OWN_UNITS),
    "split": sorted(SPLIT),
    "same": {k: list(v) for k, v in SAME.items()},
    "derived": DERIVED,
}


def _matches(path: Path, pattern: str) -> bool:
    parts = pattern.split("/")
    return len(parts) == len(path) and all(p in ("*", k) for p, k in zip(parts, path, strict=True))


def _pattern(path: Path, patterns: Iterable[str]) -> str | None:
    return next((p for p in patterns if _matches(path, p)), None)


def item_key(item: Mapping[str, Any], fields: tuple[str, ...]) -> str | None:
    for i, name in enumerate(fields):
        value = item.get(name)
        if value is not None and not isinstance(value, dict | list):
            return ("~" if i else "") + str(value)
    return None


@dataclass
class Flat:
    """A snapshot as units (path -> value) and containers (path -> keys, in order)."""

    units: dict[Path, Any] = field(default_factory=dict)
    containers: dict[Path, list[str]] = field(default_factory=dict)
    # Each unit's value without its ticking fields, once ``diff`` needed it: the next
    # diff compares against it again (the hub diffs every flat twice, as new then old).
    stable: dict[Path, Any] = field(default_factory=dict, compare=False, repr=False)


def flatten(data: Mapping[str, Any]) -> Flat:
    """``data`` as units: its own parts, not copies (the hub never changes a snapshot)."""
    flat = Flat()
    flat.containers[()] = list(data)
    for section, value in data.items():
        _walk(flat, (section,), section, value, data)
    return flat


def _lookup(data: Any, path: Path) -> Any:
    for k in path:
        if not isinstance(data, dict) or k not in data:
            return None
        data = data[k]
    return data


def _same(path: Path) -> Path | None:
    pattern = _pattern(path, SAME)
    if pattern is None:
        return None
    return tuple(path[int(k[1:])] if k.startswith("$") else k for k in SAME[pattern])


def _keyed_at(pattern: str, value: Any) -> list[tuple[str, dict[str, Any]]] | None:
    """The (key, item) pairs of a list at ``pattern`` (one of ``LISTS``); None if it is
    not keyed as that pattern says (then: whole)."""
    if not isinstance(value, list):
        return None
    position = POSITIONS.get(pattern)
    fields = LISTS[pattern]
    out: list[tuple[str, dict[str, Any]]] = []
    for i, item in enumerate(value, start=1):
        if not isinstance(item, dict) or (position is not None and item.get(position) != i):
            return None
        key = item_key(item, fields)
        if key is None:
            return None
        out.append((key, item))
    if len({k for k, _ in out}) != len(out):
        return None
    return out


def _derived(rule: Mapping[str, Any], item: Mapping[str, Any]) -> Any:
    """The value ``rule`` gives for ``item`` (None: it cannot say)."""
    if "$count" in rule:
        items = item.get(rule["$count"])
        return len(items) if isinstance(items, list) else None
    name, key = rule["$max"]
    items = item.get(name)
    if not isinstance(items, list):
        return None
    values = [i.get(key) for i in items if isinstance(i, dict)]
    return max((v for v in values if isinstance(v, int | float)), default=0.0)


def _walk(flat: Flat, path: Path, shape: str, value: Any, root: Mapping[str, Any]) -> None:
    # ``shape`` is ``path`` as the patterns say it (a keyed list's item is "*"): carried
    # down, so that each part is matched by a set's lookup, not against every pattern
    # (flatten ran once per hub take, and matching was most of its 2.8 ms at 200 calls).
    pairs = _keyed_at(shape, value) if shape in LISTS else None
    if pairs is not None:
        position = POSITIONS.get(shape)
        flat.containers[path] = [k for k, _ in pairs]
        item_shape = shape + "/*"
        rules = DERIVED.get(item_shape)
        for key, item in pairs:
            here = (*path, key)
            head: dict[str, Any] = {}
            for name, v in item.items():
                if rules is not None and (rule := rules.get(name)) is not None:
                    given = _derived(rule, item)
                    if type(v) is type(given) and v == given:
                        head[name] = rule
                        continue
                if name == position:
                    continue
                sub_shape = item_shape + "/" + name
                if sub_shape in OWN_UNITS:
                    sub = (*here, name)
                    ref = _same(sub)
                    copied = ref is not None and v is not None and _lookup(root, ref) == v
                    flat.units[sub] = {"$same": list(ref)} if copied and ref else v
                elif sub_shape in LISTS:
                    _walk(flat, (*here, name), sub_shape, v, root)
                else:
                    head[name] = v
            flat.units[here] = head
        return
    if isinstance(value, dict) and shape in SPLIT:
        flat.containers[path] = list(value)
        for k, v in value.items():
            _walk(flat, (*path, k), shape + "/" + k, v, root)
        return
    flat.units[path] = value


def assemble(flat: Flat) -> dict[str, Any]:
    """The snapshot ``flat`` was cut from (a fresh copy)."""
    children: dict[Path, list[Path]] = {}
    for path in list(flat.units) + list(flat.containers):
        if path:
            children.setdefault(path[:-1], []).append(path)

    def build(path: Path) -> Any:
        if path in flat.containers:
            keys = flat.containers[path]
            parts = {k: build((*path, k)) for k in keys}
            pattern = _pattern(path, LISTS)
            if pattern is None:
                return parts
            position = POSITIONS.get(pattern)
            items = []
            for i, k in enumerate(keys, start=1):
                item = parts[k]
                if position is not None:
                    item[position] = i
                items.append(item)
            return items
        value = copy.deepcopy(flat.units.get(path))
        if isinstance(value, dict) and list(value) == ["$same"]:
            return build(tuple(value["$same"]))
        if isinstance(value, dict):
            for sub in children.get(path, ()):
                value[sub[-1]] = build(sub)
            for name, rule in DERIVED.get(_pattern(path, DERIVED) or "", {}).items():
                if value.get(name) == rule:
                    value[name] = _derived(rule, value)
        return value

    out = build(())
    assert isinstance(out, dict)
    return out


def _clock_in(key: str, value: Any, ticking: Collection[str]) -> bool:
    """Does this field hold a running clock (a ticking key with a value, at any depth)?"""
    if key in ticking:
        return isinstance(value, int | float)  # (not a rule that gives it: no clock)
    if isinstance(value, dict):
        return any(_clock_in(k, v, ticking) for k, v in value.items())
    if isinstance(value, list):
        return any(_clock_in("", v, ticking) for v in value)
    return False


# Values taken as they are, without a call: most units are flat dicts of these.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def stable(value: Any, ticking: Collection[str]) -> Any:
    """``value`` without the keys in ``ticking``, at any depth (what the diff compares)."""
    if isinstance(value, Mapping):
        return {
            k: v if type(v) in _SCALARS else stable(v, ticking)
            for k, v in value.items()
            if k not in ticking
        }
    if isinstance(value, list | tuple):
        return [v if type(v) in _SCALARS else stable(v, ticking) for v in value]
    return value


_UNSEEN = object()


def _stable_unit(flat: Flat, path: Path, ticking: Collection[str]) -> Any:
    value = flat.stable.get(path, _UNSEEN)
    if value is _UNSEEN:
        value = flat.stable[path] = stable(flat.units[path], ticking)
    return value


def _under(path: Path, roots: Collection[Path]) -> bool:
    return any(path[:n] in roots for n in range(len(path)))


def diff(old: Flat, new: Flat, ticking: Collection[str]) -> list[dict[str, Any]]:
    """The changes that take a client holding ``old`` to ``new`` (ticking fields aside)."""
    changes: list[dict[str, Any]] = []
    gone = {p for p in old.units if p not in new.units} | {
        p for p in old.containers if p not in new.containers
    }
    removed = {p for p in gone if not _under(p, gone)}
    # What a client still holds after the removals (a removal takes all under it).
    kept_units = {p for p in old.units if p not in gone and not _under(p, removed)}
    for p in sorted(removed, key=lambda p: (len(p), p)):
        changes.append({"op": "remove", "path": list(p)})
    touched: set[Path] = set()
    added: dict[Path, list[str]] = {}
    for p, value in new.units.items():
        if p not in kept_units:
            changes.append({"op": "set", "path": list(p), "value": value})
            added.setdefault(p[:-1], []).append(p[-1])
            touched.add(p)
            continue
        before = old.units[p]
        if _stable_unit(old, p, ticking) == _stable_unit(new, p, ticking):
            continue
        touched.add(p)
        if isinstance(before, dict) and isinstance(value, dict) and before.keys() == value.keys():
            fields = {
                k: v
                for k, v in value.items()
                if _clock_in(k, v, ticking) or stable(v, ticking) != stable(before[k], ticking)
            }
            changes.append({"op": "merge", "path": list(p), "value": fields})
        else:
            changes.append({"op": "set", "path": list(p), "value": value})
    # A unit whose waiting callers changed: its ticking fields afresh (the longest wait).
    queued = {p for p in touched | removed if _pattern(p[:-1], POSITIONS) is not None}
    ancestors = {p[:n] for p in queued for n in range(1, len(p))}
    for p in sorted(ancestors - touched):
        value = new.units.get(p)
        if p in kept_units and isinstance(value, dict):
            fields = {k: v for k, v in value.items() if _clock_in(k, v, ticking)}
            if fields:
                changes.append({"op": "merge", "path": list(p), "value": fields})
    for p, keys in new.containers.items():
        held = old.containers.get(p) if p not in gone and not _under(p, removed) else None
        if held is not None:
            expect = [k for k in held if (*p, k) not in removed]
            expect += [k for k in added.get(p, ()) if k not in expect]
            if expect == keys:
                continue
        changes.append({"op": "order", "path": list(p), "keys": list(keys)})
    return changes


def apply(flat: Flat, changes: Iterable[Mapping[str, Any]]) -> Flat:
    """A client's side: ``flat`` with the changes made (in place; returned)."""
    flat.stable.clear()
    for change in changes:
        path = tuple(change["path"])
        op = change["op"]
        parent = flat.containers.get(path[:-1]) if path else None
        if op == "remove":
            for store in (flat.units, flat.containers):
                for p in [p for p in store if p[: len(path)] == path]:
                    del store[p]
            if parent is not None and path[-1] in parent:
                parent.remove(path[-1])
        elif op == "set":
            flat.units[path] = copy.deepcopy(change["value"])
            if parent is not None and path[-1] not in parent:
                parent.append(path[-1])
        elif op == "merge":
            flat.units[path] = {**flat.units[path], **copy.deepcopy(change["value"])}
        elif op == "order":
            flat.containers[path] = list(change["keys"])
        else:
            raise ValueError(f"unknown op {op!r}")
    return flat


class LiveView:
    """A client's state from the live messages (the tests' and the benchmark's reader)."""

    def __init__(self) -> None:
        self.flat: Flat | None = None
        self.seq = 0

    def read(self, message: Mapping[str, Any]) -> bool:
        """Take a message; False if it cannot be applied (a gap: ask for a snapshot)."""
        kind, seq = message.get("type"), message.get("seq")
        if kind == "snapshot":
            self.flat, self.seq = flatten(message["data"]), int(message["seq"])
            return True
        if not isinstance(seq, int) or self.flat is None or seq != self.seq + 1:
            return False
        self.seq = seq
        if kind == "delta":
            apply(self.flat, message["changes"])
        return True

    @property
    def state(self) -> dict[str, Any]:
        return assemble(self.flat) if self.flat is not None else {}

    def sections_of(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Take a message and say it as the former protocol did, as the pages are handed
        it (static/common.js): a delta as ``{"type": "update", "seq", "at", "data": {the
        sections it touched, whole}}``; a snapshot or an incident as it is."""
        if not self.read(message):
            raise ValueError(f"message {message.get('seq')} does not follow {self.seq}")
        if message.get("type") != "delta":
            return dict(message)
        touched = {str(c["path"][0]) for c in message["changes"] if c["path"]}
        for pattern, ref in SAME.items():  # a section holding another's copy changes with it
            if ref[0] in touched:
                touched.add(pattern.split("/")[0])
        state = self.state
        data = {k: state[k] for k in state if k in touched}
        return {"type": "update", "seq": message["seq"], "at": message["at"], "data": data}
