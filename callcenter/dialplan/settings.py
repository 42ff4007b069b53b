"""The number plan: queues, IVR menus, groups, agents, parking lots, feature codes and
transfer targets ([[queues]], [[ivr]], [[groups]], [[agents]], [[parking]], [features],
[[transfer_targets]]), the dialplan is rendered from.

Each entry's own values are validated by its model; ``NumberPlan.checks`` looks at the
sections together: names declared once, references to queues, menus, groups, agents
and transfer targets, group overflow loops, and one owner per dialled number (the map
``NumberPlan.numbers`` builds once).
"""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field

from callcenter.settings_base import NAME_RE as NAME_RE
from callcenter.settings_base import Hint, Loc, Name, Problem, Prompt, Settings


def _digits(number: str) -> str:
    if number and not number.isdigit():
        raise ValueError(f"{number!r} must be digits")
    return number


# A published number: digits, or "" for none.
Number = Annotated[str, AfterValidator(_digits)]
NonNegative = Annotated[int, Field(ge=0)]
Positive = Annotated[int, Field(gt=0)]

QueueStrategy = Literal[
    "ringall", "leastrecent", "fewestcalls", "random", "rrmemory", "linear", "wrandom",
    "rrordered",
]  # fmt: skip
QUEUE_STRATEGIES = frozenset(typing.get_args(QueueStrategy))


class QueueConfig(Settings):
    name: Name
    strategy: QueueStrategy = "rrmemory"
    timeout: NonNegative = 15  # seconds an agent's phone rings
    retry: NonNegative = 2
    maxlen: NonNegative = 0  # 0: unlimited waiting callers
    wrapuptime: NonNegative = 0
    number: Number = ""  # the published number routed to this queue
    # After the busy announcement: "" keeps the caller waiting; "voicemail" or "callback"
    # offers that (press 1 within busy_offer_seconds), and otherwise the caller waits on.
    busy_prompt: Prompt = "all-circuits-busy-now"  # the busy announcement of this queue
    busy_offer: Literal["", "voicemail", "callback"] = ""
    busy_offer_prompt: Prompt = "vm-leavemsg"  # sound file(s) that make the offer
    busy_offer_seconds: Annotated[int, Field(ge=1, le=30), Hint("between 1 and 30")] = 3
    survey: bool = False  # after the agent hangs up, ask the caller to rate the call 1-5


IVR_TARGET_KINDS = ("queue", "ivr", "group", "transfer", "after_hours", "hangup")
IVR_DIGITS = frozenset("0123456789*#")


def _choices(value: Any) -> Any:
    """A TOML table {digit = "target"} -> (digit, target) pairs in digit order."""
    return tuple(sorted(value.items())) if isinstance(value, Mapping) else value


IvrOptions = Annotated[
    tuple[tuple[str, str], ...],
    BeforeValidator(_choices),
    Hint('a table of digit = "target" strings'),
]


class IvrConfig(Settings):
    name: Name
    number: Number = ""  # a published number that starts here; "" = reached from menus only
    prompt: Prompt = "silence/1"  # sound file(s) played while waiting for a digit, '&'-joined
    timeout: Positive = 5  # seconds to wait for a digit after the prompt
    retries: NonNegative = 2  # wrong or missing choices allowed before the call is ended
    # digit -> "queue:NAME" | "ivr:NAME" | "group:NAME" | "transfer:NAME" | "after_hours"
    # | "hangup" (a TOML table)
    options: IvrOptions = ()

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        if not self.options:
            yield Problem(("options",), f"menu {self.name!r} offers no choice")
        for digit, target in self.options:
            if digit not in IVR_DIGITS:
                yield Problem(("options", digit), "a choice is one key: 0-9, * or #")
            if target.partition(":")[0] not in IVR_TARGET_KINDS:
                yield Problem(
                    ("options", digit),
                    f"{target!r} is not one of "
                    "queue:NAME, ivr:NAME, group:NAME, transfer:NAME, after_hours, hangup",
                )


# Where an unanswered group call goes; never "after_hours": that would take an
# unanswered call out of the abandonment and busy rates.
GROUP_OVERFLOW_KINDS = ("queue", "ivr", "group", "hangup")


def _overflow(target: str) -> str:
    kind, _, arg = target.partition(":")
    if kind not in GROUP_OVERFLOW_KINDS or (kind == "hangup") != (arg == ""):
        raise ValueError(f"{target!r} is not one of queue:NAME, ivr:NAME, group:NAME, hangup")
    return target


class GroupConfig(Settings):
    """A group number (グループ代表番号): one number that rings a set of agents' phones."""

    name: Name
    number: Number = ""  # a published number that rings the group; "" = reached from menus only
    members: tuple[str, ...] = ()  # agent ids; hunt rings them in this order
    strategy: Literal["ringall", "hunt"] = "ringall"  # all at once | one after another
    timeout: Positive = 20  # seconds: the whole ring (ringall), or each member's ring (hunt)
    # nobody answered: "queue:NAME" | "ivr:NAME" | "group:NAME" | "hangup"
    overflow: Annotated[str, AfterValidator(_overflow)] = "hangup"

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        if not self.members:
            yield Problem(("members",), f"group {self.name!r} has no members")
        for member in sorted({m for m in self.members if self.members.count(m) > 1}):
            yield Problem(("members",), f"group {self.name!r} names agent {member!r} twice")
        if self.overflow == f"group:{self.name}":
            yield Problem(("overflow",), f"group {self.name!r} overflows to itself")


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _env_name(name: str) -> str:
    if name and not _ENV_NAME.match(name):
        raise ValueError(f"{name!r} is not an environment variable name")
    return name


class AgentConfig(Settings):
    id: Name
    name: str
    # The SIP password of a softphone that registers. On a real site give password_env
    # instead: the name of the environment variable (systemd's EnvironmentFile) that holds
    # it, so the file can be shared and the password never sits in it in clear.
    password: str = Field(default="", repr=False)
    password_env: Annotated[str, AfterValidator(_env_name)] = ""
    queues: tuple[str, ...] = ()
    contact: str = ""  # a fixed SIP URI (a desk phone); empty: the softphone registers

    def resolved_password(self, environ: Mapping[str, str] | None = None) -> str:
        """The variable named by password_env when it is set, else the file's password."""
        env = os.environ if environ is None else environ
        return (env.get(self.password_env, "") if self.password_env else "") or self.password

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        if self.contact:
            return
        password = self.resolved_password(environ)
        if not password:
            if self.password_env:
                yield Problem(
                    ("password_env",),
                    f"agent {self.id!r} registers, but ${self.password_env} is not set",
                )
            else:
                yield Problem(("password",), f"agent {self.id!r} registers, so it needs a password")
        elif any(c in password for c in "\r\n;#") or password != password.strip():
            # It is written into pjsip.conf, where these would end or cut the line. The
            # message never shows the password.
            key = "password_env" if self.password_env else "password"
            yield Problem(
                (key,),
                f"agent {self.id!r}: the password may not hold a line break, ';', '#' "
                "or spaces at either end",
            )


def _slots(text: str) -> str:
    first, dash, last = text.partition("-")
    if not (dash and first.isdigit() and last.isdigit() and len(first) == len(last)):
        raise ValueError(f"{text!r} must be FIRST-LAST, digits of one length")
    if int(first) > int(last):
        raise ValueError(f"{text!r} ends before it starts")
    if int(last) - int(first) >= 1000:
        raise ValueError(f"{text!r} is more than 1000 slots")
    return text


def _extension(text: str) -> str:
    if not text.isdigit():
        raise ValueError(f"{text!r} must be digits")
    return text


class ParkingLotConfig(Settings):
    """A parking lot (パーク保留): dial ``extension`` (or transfer a caller to it) to park;
    the caller waits in the first free slot until someone dials that slot."""

    name: Name
    extension: Annotated[str, AfterValidator(_extension)] = "700"
    slots: Annotated[str, AfterValidator(_slots)] = "701-720"  # first-last, digits of one length
    # seconds parked before the call rings the agent who parked it
    timeout: Annotated[int, Field(ge=1, le=7200), Hint("between 1 and 7200 seconds")] = 45

    @property
    def context(self) -> str:
        """The dialplan context res_parking fills with the lot's extension and slots."""
        return f"callcenter-parked-{self.name}"

    def slot_range(self) -> tuple[int, int]:
        first, _, last = self.slots.partition("-")
        return int(first), int(last)

    def slot_numbers(self) -> list[str]:
        """Each slot's number (zero-padded like the range); none when the range is bad."""
        try:
            _slots(self.slots)
        except ValueError:
            return []
        first, last = self.slot_range()
        width = len(self.slots.partition("-")[0])
        return [str(n).zfill(width) for n in range(first, last + 1)]

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        if self.extension in self.slot_numbers():
            yield Problem(("extension",), f"{self.extension} is one of its own slots")


_DTMF_CODE = re.compile(r"^[0-9*#]{1,8}$")


def _dtmf(code: str) -> str:
    if not _DTMF_CODE.match(code):
        raise ValueError(f"{code!r} must be 1-8 of 0-9, * and #")
    return code


DtmfCode = Annotated[str, AfterValidator(_dtmf)]


class FeaturesConfig(Settings):
    """DTMF codes an agent presses during a call (features.conf [featuremap])."""

    parkcall: DtmfCode = "#72"  # park the caller in the agent's lot (the first one)
    atxfer: DtmfCode = "*2"  # attended transfer (the daemon's attended transfer uses it too)
    blindxfer: DtmfCode = "#1"
    # seconds to wait for the next digit of a number
    transfer_digit_timeout: Annotated[int, Field(ge=1, le=30), Hint("between 1 and 30 seconds")] = 3

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        codes: dict[str, str] = {}
        for name in ("parkcall", "atxfer", "blindxfer"):
            code = getattr(self, name)
            if code in codes:
                yield Problem((name,), f"{code!r} is also features.{codes[code]}")
            codes.setdefault(code, name)


_SIP_URI = re.compile(r"^sips?:[^\s<>\"';,]+$")
# A Dial() string: technology/resource, nothing that would end the application's argument.
_DIAL = re.compile(r"^[A-Za-z]+/[^\s,()|;\"]+$")


def _dialled(number: str) -> str:
    if not number:
        raise ValueError("required (agents and the daemon dial it)")
    return _digits(number)


def _sip_uri(contact: str) -> str:
    if contact and not _SIP_URI.match(contact):
        raise ValueError(f"{contact!r} is not a SIP URI (sip:user@host:port)")
    return contact


def _dial(dial: str) -> str:
    if dial and not _DIAL.match(dial):
        raise ValueError(f"{dial!r} is not a Dial() string (TECH/resource)")
    return dial


class TransferTargetConfig(Settings):
    """Somewhere outside the desk a call is transferred to (e.g. the second-line vendor)."""

    name: Name
    # what agents dial, and what the daemon transfers to
    number: Annotated[str, AfterValidator(_dialled)] = Field(default="", validate_default=True)
    label: str = ""  # shown to agents
    # a SIP URI: rendered as a PJSIP endpoint of its own, or ...
    contact: Annotated[str, AfterValidator(_sip_uri)] = ""
    # ... a Dial() string of the existing PBX (e.g. "PJSIP/0312345678@trunk")
    dial: Annotated[str, AfterValidator(_dial)] = ""
    timeout: Annotated[int, Field(ge=1, le=300), Hint("between 1 and 300 seconds")] = 30

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        if bool(self.contact) == bool(self.dial):
            yield Problem((), "give one of contact (a SIP URI) or dial (a Dial() string)")


def _some_lot(lots: tuple[ParkingLotConfig, ...]) -> tuple[ParkingLotConfig, ...]:
    if not lots:
        raise ValueError("at least one parking lot (the agents park into the first)")
    return lots


class NumberPlan(Settings):
    """What callers and agents dial, and where it leads (the root of the file holds it)."""

    features: FeaturesConfig = FeaturesConfig()
    queues: tuple[QueueConfig, ...] = (QueueConfig(name="support", number="1000"),)
    ivr: tuple[IvrConfig, ...] = (
        IvrConfig(name="main", number="2000", options=(("1", "queue:support"),)),
    )
    groups: tuple[GroupConfig, ...] = (
        GroupConfig(
            name="desk",
            number="3000",
            members=("agent1", "agent2"),
            strategy="ringall",
            timeout=20,
            overflow="queue:support",
        ),
    )
    # The lab's demo softphones; their passwords only ever open the loopback lab.
    agents: tuple[AgentConfig, ...] = (
        AgentConfig(id="agent1", name="Agent One", password="lab-agent1", queues=("support",)),  # noqa: S106
        AgentConfig(id="agent2", name="Agent Two", password="lab-agent2", queues=("support",)),  # noqa: S106
    )
    parking: Annotated[tuple[ParkingLotConfig, ...], AfterValidator(_some_lot)] = (
        ParkingLotConfig(name="default"),
    )
    transfer_targets: tuple[TransferTargetConfig, ...] = (
        TransferTargetConfig(
            name="second-line",
            number="8001",
            label="二次サポート (ベンダー)",
            contact="sip:second-line@127.0.0.1:5070",
        ),
    )

    def numbers(self) -> dict[str, str]:
        """Every dialled number -> who owns it ("queue 'support'", "parking lot 'p'")."""
        owners: dict[str, str] = {}
        for number, owner, _ in self._claims():
            owners.setdefault(number, owner)
        return owners

    def _claims(self) -> Iterator[tuple[str, str, Loc]]:
        """(number, owner, where it is declared), in the order of the file; a parking
        lot's slots come before its extension."""
        published: list[tuple[str, str, list[tuple[str, str]]]] = [
            ("queues", "queue", [(q.name, q.number) for q in self.queues]),
            ("ivr", "menu", [(m.name, m.number) for m in self.ivr]),
            ("groups", "group", [(g.name, g.number) for g in self.groups]),
        ]
        for section, kind, entries in published:
            for i, (name, number) in enumerate(entries):
                if number.isdigit():
                    yield number, f"{kind} {name!r}", (section, i, "number")
        for i, lot in enumerate(self.parking):
            slots = lot.slot_numbers()
            for slot in slots:
                yield slot, f"parking lot {lot.name!r}", ("parking", i, "slots")
            if lot.extension.isdigit() and lot.extension not in slots:
                yield lot.extension, f"parking lot {lot.name!r}", ("parking", i, "extension")
        for i, t in enumerate(self.transfer_targets):
            if t.number.isdigit():
                yield t.number, f"transfer target {t.name!r}", ("transfer_targets", i, "number")

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        yield from self._names()
        yield from self._references()
        yield from self._loops()
        yield from self._one_owner_per_number()

    def _names(self) -> Iterator[Problem]:
        for section, kind, names in (
            ("queues", "queue", [q.name for q in self.queues]),
            ("ivr", "menu", [m.name for m in self.ivr]),
            ("groups", "group", [g.name for g in self.groups]),
            ("agents", "agent", [a.id for a in self.agents]),
            ("parking", "parking lot", [p.name for p in self.parking]),
            ("transfer_targets", "transfer target", [t.name for t in self.transfer_targets]),
        ):
            key = "id" if section == "agents" else "name"
            for i, name in enumerate(names):
                if name in names[:i]:
                    yield Problem((section, i, key), f"{kind} {name!r} is declared twice")

    def _references(self) -> Iterator[Problem]:
        known = {
            "queue": ("queue", {q.name for q in self.queues}),
            "ivr": ("menu", {m.name for m in self.ivr}),
            "group": ("group", {g.name for g in self.groups}),
            "transfer": ("transfer target", {t.name for t in self.transfer_targets}),
        }
        for i, a in enumerate(self.agents):
            for name in a.queues:
                if name not in known["queue"][1]:
                    yield Problem(
                        ("agents", i, "queues"), f"agent {a.id!r} names unknown queue {name!r}"
                    )
        for i, m in enumerate(self.ivr):
            for digit, target in m.options:
                kind, _, arg = target.partition(":")
                if kind in known and arg not in known[kind][1]:
                    yield Problem(
                        ("ivr", i, "options", digit),
                        f"menu {m.name!r} points at unknown {known[kind][0]} {arg!r}",
                    )
        agents = {a.id for a in self.agents}
        for i, g in enumerate(self.groups):
            for member in sorted(set(g.members) - agents):
                yield Problem(
                    ("groups", i, "members"), f"group {g.name!r} names unknown agent {member!r}"
                )
            kind, _, arg = g.overflow.partition(":")
            if kind in ("queue", "ivr", "group") and arg not in known[kind][1]:
                yield Problem(
                    ("groups", i, "overflow"),
                    f"group {g.name!r} overflows to unknown {known[kind][0]} {arg!r}",
                )

    def _loops(self) -> Iterator[Problem]:
        """group -> group -> ... back to the first: nobody would ever stop ringing."""
        next_group = {
            g.name: g.overflow.partition(":")[2]
            for g in self.groups
            if g.overflow.startswith("group:") and g.overflow != f"group:{g.name}"
        }
        reported: set[str] = set()
        for i, g in enumerate(self.groups):
            path = [g.name]
            while path[-1] in next_group and next_group[path[-1]] not in path:
                path.append(next_group[path[-1]])
            if next_group.get(path[-1]) == g.name and len(path) > 1 and g.name not in reported:
                reported.update(path)
                loop = " -> ".join(repr(n) for n in [*path, g.name])
                yield Problem(("groups", i, "overflow"), f"groups overflow in a loop: {loop}")

    def _one_owner_per_number(self) -> Iterator[Problem]:
        owners: dict[str, str] = {}
        clashed: set[Loc] = set()
        for number, owner, loc in self._claims():
            if number not in owners:
                owners[number] = owner
                continue
            first = owners[number]
            if loc[-1] != "slots":
                yield Problem(loc, f"used by both {first} and {owner}", key=f"number {number}")
            elif loc not in clashed:  # a lot's range: its first clash only
                clashed.add(loc)
                yield Problem(loc, f"slot {number} is also the number of {first}")
