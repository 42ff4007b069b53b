"""Configuration: one TOML file -> validated, frozen objects.

Every default lives here, and ``config/callcenter.example.toml`` documents the same
values (a unit test keeps the two in step), so ``callcenter run`` with no file runs
on these embedded defaults: the local lab Asterisk and a SQLite file.

Validation collects every problem before failing, and each message names the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Literal

from callcenter.ami.settings import AMIConfig as AMIConfig
from callcenter.incidents.settings import IncidentsConfig as IncidentsConfig
from callcenter.metrics.settings import MetricsConfig as MetricsConfig
from callcenter.pbxrecord.settings import PbxRecordSettings
from callcenter.schedule.settings import ServiceConfig as ServiceConfig
from callcenter.store.settings import DatabaseConfig as DatabaseConfig
from callcenter.webhooks.settings import WebhookSettings

DEFAULT_CONFIG_ENV = "CALLCENTER_CONFIG"
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,39}$")


class ConfigError(ValueError):
    """The configuration is invalid; ``problems`` lists each bad key and why."""

    def __init__(self, problems: list[str], source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class ServerConfig:
    id: str = "lab"  # stored with every event: several daemons may share one database


@dataclass(frozen=True)
class LogConfig:
    format: Literal["console", "json"] = "console"
    level: Literal["debug", "info", "warning", "error"] = "info"


@dataclass(frozen=True)
class HttpConfig:
    """The daemon's HTTP API (and, later, its pages)."""

    enabled: bool = True
    host: str = "127.0.0.1"  # loopback by default; put a TLS proxy in front for the LAN
    port: int = 8080  # 0: a free port (tests)
    # The TLS proxies in front (addresses or networks): a request from one of them with
    # X-Forwarded-Proto: https gets Secure cookies. From any other peer the header is
    # ignored. [] trusts none (cookies are then Secure only on a direct TLS connection).
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")


@dataclass(frozen=True)
class LabConfig:
    workdir: str = "var/lab"
    sip_port: int = 0  # 0: a free port chosen at start
    ami_port: int = 0
    rtp_start: int = 20000
    rtp_end: int = 20999
    trunk_address: str = "127.0.0.2"  # calls from this loopback address come in as the trunk


@dataclass(frozen=True)
class QueueConfig:
    name: str
    strategy: str = "rrmemory"
    timeout: int = 15  # seconds an agent's phone rings
    retry: int = 2
    maxlen: int = 0  # 0: unlimited waiting callers
    wrapuptime: int = 0
    number: str = ""  # the published number routed to this queue
    # After the busy announcement: "" keeps the caller waiting; "voicemail" or "callback"
    # offers that (press 1 within busy_offer_seconds), and otherwise the caller waits on.
    busy_prompt: str = "all-circuits-busy-now"  # the busy announcement of this queue
    busy_offer: str = ""
    busy_offer_prompt: str = "vm-leavemsg"  # sound file(s) that make the offer
    busy_offer_seconds: int = 3
    survey: bool = False  # after the agent hangs up, ask the caller to rate the call 1-5


IVR_TARGET_KINDS = ("queue", "ivr", "group", "transfer", "after_hours", "hangup")
IVR_DIGITS = frozenset("0123456789*#")


@dataclass(frozen=True)
class IvrConfig:
    name: str
    number: str = ""  # a published number that starts here; "" = reached from menus only
    prompt: str = "silence/1"  # sound file(s) played while waiting for a digit, '&'-joined
    timeout: int = 5  # seconds to wait for a digit after the prompt
    retries: int = 2  # wrong or missing choices allowed before the call is ended
    # digit -> "queue:NAME" | "ivr:NAME" | "group:NAME" | "transfer:NAME" | "after_hours"
    # | "hangup" (a TOML table)
    options: tuple[tuple[str, str], ...] = ()


GROUP_STRATEGIES = ("ringall", "hunt")
# Where an unanswered group call goes; never "after_hours": that would take an
# unanswered call out of the abandonment and busy rates.
GROUP_OVERFLOW_KINDS = ("queue", "ivr", "group", "hangup")


@dataclass(frozen=True)
class GroupConfig:
    """A group number (グループ代表番号): one number that rings a set of agents' phones."""

    name: str
    number: str = ""  # a published number that rings the group; "" = reached from menus only
    members: tuple[str, ...] = ()  # agent ids; hunt rings them in this order
    strategy: str = "ringall"  # ringall: all at once | hunt: one after another
    timeout: int = 20  # seconds: the whole ring (ringall), or each member's ring (hunt)
    overflow: str = "hangup"  # nobody answered: "queue:NAME" | "ivr:NAME" | "group:NAME" | "hangup"


@dataclass(frozen=True)
class AgentConfig:
    id: str
    name: str
    password: str = field(default="", repr=False)
    queues: tuple[str, ...] = ()
    contact: str = ""  # a fixed SIP URI (a desk phone); empty: the softphone registers


@dataclass(frozen=True)
class ParkingLotConfig:
    """A parking lot (パーク保留): dial ``extension`` (or transfer a caller to it) to park;
    the caller waits in the first free slot until someone dials that slot."""

    name: str
    extension: str = "700"
    slots: str = "701-720"  # first-last, digits of one length
    timeout: int = 45  # seconds parked before the call rings the agent who parked it

    @property
    def context(self) -> str:
        """The dialplan context res_parking fills with the lot's extension and slots."""
        return f"callcenter-parked-{self.name}"

    def slot_range(self) -> tuple[int, int]:
        first, _, last = self.slots.partition("-")
        return int(first), int(last)


@dataclass(frozen=True)
class FeaturesConfig:
    """DTMF codes an agent presses during a call (features.conf [featuremap])."""

    parkcall: str = "#72"  # park the caller in the agent's lot (the first one)
    atxfer: str = "*2"  # attended transfer (the daemon's attended transfer uses it too)
    blindxfer: str = "#1"
    transfer_digit_timeout: int = 3  # seconds to wait for the next digit of a number


@dataclass(frozen=True)
class TransferTargetConfig:
    """Somewhere outside the desk a call is transferred to (e.g. the second-line vendor)."""

    name: str
    number: str = ""  # what agents dial, and what the daemon transfers to
    label: str = ""  # shown to agents
    contact: str = ""  # a SIP URI: rendered as a PJSIP endpoint of its own, or ...
    dial: str = ""  # ... a Dial() string of the existing PBX (e.g. "PJSIP/0312345678@trunk")
    timeout: int = 30  # seconds it rings


@dataclass(frozen=True)
class Config:
    server: ServerConfig = ServerConfig()
    ami: AMIConfig = AMIConfig()  # noqa: RUF009 (frozen: safe to share)
    database: DatabaseConfig = DatabaseConfig()  # noqa: RUF009 (frozen: safe to share)
    log: LogConfig = LogConfig()
    service: ServiceConfig = ServiceConfig()  # noqa: RUF009 (frozen: safe to share)
    metrics: MetricsConfig = MetricsConfig()  # noqa: RUF009 (frozen: safe to share)
    lab: LabConfig = LabConfig()
    features: FeaturesConfig = FeaturesConfig()
    incidents: IncidentsConfig = IncidentsConfig()  # noqa: RUF009 (frozen: safe to share)
    http: HttpConfig = HttpConfig()
    webhooks: WebhookSettings = WebhookSettings()  # noqa: RUF009 (frozen: safe to share)
    pbx_record: PbxRecordSettings = PbxRecordSettings()  # noqa: RUF009 (frozen: safe to share)
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
    parking: tuple[ParkingLotConfig, ...] = (ParkingLotConfig(name="default"),)
    transfer_targets: tuple[TransferTargetConfig, ...] = (
        TransferTargetConfig(
            name="second-line",
            number="8001",
            label="二次サポート (ベンダー)",
            contact="sip:second-line@127.0.0.1:5070",
        ),
    )
    base_dir: Path = Path()  # relative paths in the file are taken from here

    def path(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.base_dir / p

    def database_url(self) -> str:
        url = self.database.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
            return prefix + str(self.path(url[len(prefix) :]))
        return url


QUEUE_STRATEGIES = {
    "ringall",
    "leastrecent",
    "fewestcalls",
    "random",
    "rrmemory",
    "linear",
    "wrandom",
    "rrordered",
}

_SECTIONS: dict[str, type] = {
    "server": ServerConfig,
    "ami": AMIConfig,
    "database": DatabaseConfig,
    "log": LogConfig,
    "service": ServiceConfig,
    "metrics": MetricsConfig,
    "lab": LabConfig,
    "features": FeaturesConfig,
    "incidents": IncidentsConfig,
    "http": HttpConfig,
    "webhooks": WebhookSettings,
    "pbx_record": PbxRecordSettings,
}
_ARRAYS: dict[str, type] = {
    "queues": QueueConfig,
    "agents": AgentConfig,
    "groups": GroupConfig,
    "parking": ParkingLotConfig,
    "transfer_targets": TransferTargetConfig,
}
_CHOICES: dict[str, set[str]] = {
    "log.format": {"console", "json"},
    "log.level": {"debug", "info", "warning", "error"},
    "queues.strategy": QUEUE_STRATEGIES,
    "groups.strategy": set(GROUP_STRATEGIES),
}


def _type_name(t: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(t, str(t))


def _coerce(key: str, value: Any, default: Any, problems: list[str]) -> Any:
    """Check one scalar against the type of its default."""
    t = type(default)
    if t is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if t is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            problems.append(f"{key}: must be a list of strings")
            return default
        return tuple(value)
    if not isinstance(value, t) or (t is not bool and isinstance(value, bool)):
        problems.append(f"{key}: must be {_type_name(t)}, got {type(value).__name__} {value!r}")
        return default
    return value


def _build(cls: type, data: Mapping[str, Any], prefix: str, problems: list[str]) -> Any:
    known = {f.name: f for f in fields(cls) if f.name != "base_dir"}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        full = f"{prefix}.{key}"
        if key not in known:
            problems.append(f"{full}: unknown key (known: {', '.join(sorted(known))})")
            continue
        f = known[key]
        # Every required field (a queue's name, an agent's id and name) is a string.
        default = "" if f.default is MISSING else f.default
        choice_key = f"{prefix.split('[')[0]}.{key}"
        value = _coerce(full, value, default, problems)
        if choice_key in _CHOICES and value not in _CHOICES[choice_key]:
            problems.append(
                f"{full}: {value!r} is not one of {', '.join(sorted(_CHOICES[choice_key]))}"
            )
        kwargs[key] = value
    for f in fields(cls):
        if f.name != "base_dir" and f.name not in kwargs and f.default is MISSING:
            problems.append(f"{prefix}.{f.name}: required")
    if any(p.startswith(f"{prefix}.") and p.endswith(": required") for p in problems):
        return None
    return cls(**kwargs)


def _check_names(
    section: str, kind: str, entries: list[tuple[str, str]], problems: list[str]
) -> None:
    """Names (letters, digits, '-', '_'; each once) and published numbers (digits)."""
    seen: set[str] = set()
    for i, (name, number) in enumerate(entries):
        if not NAME_RE.match(name):
            problems.append(f"{section}[{i}].name: {name!r} must be letters, digits, '-' or '_'")
        if name in seen:
            problems.append(f"{section}[{i}].name: {kind} {name!r} is declared twice")
        seen.add(name)
        if number and not number.isdigit():
            problems.append(f"{section}[{i}].number: {number!r} must be digits")


def _check_values(cfg: Config, problems: list[str]) -> None:
    def positive(key: str, value: float) -> None:
        if value <= 0:
            problems.append(f"{key}: must be greater than 0, got {value}")

    def port(key: str, value: int, allow_zero: bool = False) -> None:
        if not (0 if allow_zero else 1) <= value <= 65535:
            problems.append(f"{key}: not a TCP/UDP port: {value}")

    if not NAME_RE.match(cfg.server.id):
        problems.append(f"server.id: {cfg.server.id!r} must be letters, digits, '-' or '_'")
    port("http.port", cfg.http.port, allow_zero=True)
    for i, proxy in enumerate(cfg.http.trusted_proxies):
        try:
            ipaddress.ip_network(proxy, strict=False)
        except ValueError:
            problems.append(f"http.trusted_proxies[{i}]: {proxy!r} is not an IP address or network")
    port("lab.sip_port", cfg.lab.sip_port, allow_zero=True)
    port("lab.ami_port", cfg.lab.ami_port, allow_zero=True)
    if not cfg.lab.trunk_address.startswith("127."):
        problems.append("lab.trunk_address: the lab only uses loopback addresses (127.x.x.x)")
    _check_names("queues", "queue", [(q.name, q.number) for q in cfg.queues], problems)
    seen = {q.name for q in cfg.queues}
    for i, q in enumerate(cfg.queues):
        for k in ("timeout", "retry", "maxlen", "wrapuptime"):
            if getattr(q, k) < 0:
                problems.append(f"queues[{i}].{k}: must not be negative")
        if q.busy_offer not in ("", "voicemail", "callback"):
            problems.append(
                f"queues[{i}].busy_offer: {q.busy_offer!r} is not one of "
                '"", "voicemail", "callback"'
            )
        if not 1 <= q.busy_offer_seconds <= 30:
            problems.append(f"queues[{i}].busy_offer_seconds: between 1 and 30")
    agent_ids: set[str] = set()
    for i, a in enumerate(cfg.agents):
        if not NAME_RE.match(a.id):
            problems.append(f"agents[{i}].id: {a.id!r} must be letters, digits, '-' or '_'")
        if a.id in agent_ids:
            problems.append(f"agents[{i}].id: agent {a.id!r} is declared twice")
        agent_ids.add(a.id)
        for qname in a.queues:
            if qname not in seen:
                problems.append(f"agents[{i}].queues: agent {a.id!r} names unknown queue {qname!r}")
        if not a.contact and not a.password:
            problems.append(
                f"agents[{i}].password: agent {a.id!r} registers, so it needs a password"
            )


def _build_ivr(value: Any, problems: list[str]) -> tuple[IvrConfig, ...]:
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        problems.append("ivr: must be an array of tables ([[ivr]])")
        return ()
    menus = []
    for i, raw in enumerate(value):
        raw = dict(raw)
        options = raw.pop("options", {})
        menu = _build(IvrConfig, raw, f"ivr[{i}]", problems)
        if not isinstance(options, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in options.items()
        ):
            problems.append(f'ivr[{i}].options: a table of digit = "target" strings')
            continue
        if menu is not None:
            menus.append(replace(menu, options=tuple(sorted(options.items()))))
    return tuple(menus)


def _check_ivr(cfg: Config, problems: list[str]) -> None:
    queues = {q.name for q in cfg.queues}
    menus = {m.name for m in cfg.ivr}
    groups = {g.name for g in cfg.groups}
    targets = {t.name for t in cfg.transfer_targets}
    _check_names("ivr", "menu", [(m.name, m.number) for m in cfg.ivr], problems)
    for i, m in enumerate(cfg.ivr):
        if m.timeout <= 0 or m.retries < 0:
            problems.append(f"ivr[{i}]: timeout must be > 0 and retries >= 0")
        if not m.options:
            problems.append(f"ivr[{i}].options: menu {m.name!r} offers no choice")
        for digit, target in m.options:
            key = f"ivr[{i}].options.{digit}"
            if digit not in IVR_DIGITS:
                problems.append(f"{key}: a choice is one key: 0-9, * or #")
            kind, _, arg = target.partition(":")
            if kind not in IVR_TARGET_KINDS:
                problems.append(
                    f"{key}: {target!r} is not one of "
                    "queue:NAME, ivr:NAME, group:NAME, transfer:NAME, after_hours, hangup"
                )
            elif kind == "queue" and arg not in queues:
                problems.append(f"{key}: menu {m.name!r} points at unknown queue {arg!r}")
            elif kind == "ivr" and arg not in menus:
                problems.append(f"{key}: menu {m.name!r} points at unknown menu {arg!r}")
            elif kind == "group" and arg not in groups:
                problems.append(f"{key}: menu {m.name!r} points at unknown group {arg!r}")
            elif kind == "transfer" and arg not in targets:
                problems.append(f"{key}: menu {m.name!r} points at unknown transfer target {arg!r}")
    numbers: dict[str, str] = {}
    for label, number in [
        *((f"queue {q.name!r}", q.number) for q in cfg.queues),
        *((f"menu {m.name!r}", m.number) for m in cfg.ivr),
    ]:
        if number and number in numbers:
            problems.append(f"number {number}: used by both {numbers[number]} and {label}")
        numbers.setdefault(number, label)


def _check_groups(cfg: Config, problems: list[str]) -> None:
    targets = {
        "queue": {q.name for q in cfg.queues},
        "ivr": {m.name for m in cfg.ivr},
        "group": {g.name for g in cfg.groups},
    }
    agents = {a.id for a in cfg.agents}
    _check_names("groups", "group", [(g.name, g.number) for g in cfg.groups], problems)
    next_group: dict[str, str] = {}  # group -> the group it overflows to
    for i, g in enumerate(cfg.groups):
        key = f"groups[{i}]"
        if g.timeout <= 0:
            problems.append(f"{key}.timeout: must be greater than 0, got {g.timeout}")
        if not g.members:
            problems.append(f"{key}.members: group {g.name!r} has no members")
        for member in sorted(set(g.members) - agents):
            problems.append(f"{key}.members: group {g.name!r} names unknown agent {member!r}")
        for member in sorted({m for m in g.members if g.members.count(m) > 1}):
            problems.append(f"{key}.members: group {g.name!r} names agent {member!r} twice")
        kind, _, arg = g.overflow.partition(":")
        if kind not in GROUP_OVERFLOW_KINDS or (kind == "hangup") != (arg == ""):
            problems.append(
                f"{key}.overflow: {g.overflow!r} is not one of "
                "queue:NAME, ivr:NAME, group:NAME, hangup"
            )
        elif kind == "group" and arg == g.name:
            problems.append(f"{key}.overflow: group {g.name!r} overflows to itself")
        elif kind != "hangup" and arg not in targets[kind]:
            what = {"queue": "queue", "ivr": "menu", "group": "group"}[kind]
            problems.append(f"{key}.overflow: group {g.name!r} overflows to unknown {what} {arg!r}")
        elif kind == "group":
            next_group[g.name] = arg
    # group -> group -> ... back to the first: nobody would ever stop ringing.
    reported: set[str] = set()
    for i, g in enumerate(cfg.groups):
        path = [g.name]
        while path[-1] in next_group and next_group[path[-1]] not in path:
            path.append(next_group[path[-1]])
        if next_group.get(path[-1]) == g.name and len(path) > 1 and g.name not in reported:
            reported.update(path)
            loop = " -> ".join(repr(n) for n in [*path, g.name])
            problems.append(f"groups[{i}].overflow: groups overflow in a loop: {loop}")
    numbers: dict[str, str] = {}
    for label, number in [
        *((f"queue {q.name!r}", q.number) for q in cfg.queues),
        *((f"menu {m.name!r}", m.number) for m in cfg.ivr),
    ]:
        numbers.setdefault(number, label)
    for g in cfg.groups:
        label = f"group {g.name!r}"
        if g.number and g.number in numbers:
            problems.append(f"number {g.number}: used by both {numbers[g.number]} and {label}")
        numbers.setdefault(g.number, label)


_DTMF_CODE = re.compile(r"^[0-9*#]{1,8}$")
_SIP_URI = re.compile(r"^sips?:[^\s<>\"';,]+$")
# A Dial() string: technology/resource, nothing that would end the application's argument.
_DIAL = re.compile(r"^[A-Za-z]+/[^\s,()|;\"]+$")


def _check_pbx(cfg: Config, problems: list[str]) -> None:
    """Parking lots, feature codes, transfer targets, and one owner per dialled number."""
    numbers: dict[str, str] = {}

    def claim(number: str, label: str) -> None:
        if number in numbers:
            problems.append(f"number {number}: used by both {numbers[number]} and {label}")
        numbers.setdefault(number, label)

    # Clashes among queues, menus and groups are reported by their own checks.
    for label, number in [
        *((f"queue {q.name!r}", q.number) for q in cfg.queues),
        *((f"menu {m.name!r}", m.number) for m in cfg.ivr),
        *((f"group {g.name!r}", g.number) for g in cfg.groups),
    ]:
        if number:
            numbers.setdefault(number, label)

    _check_names("parking", "parking lot", [(p.name, "") for p in cfg.parking], problems)
    if not cfg.parking:
        problems.append("parking: at least one parking lot (the agents park into the first)")
    for i, lot in enumerate(cfg.parking):
        key = f"parking[{i}]"
        if not lot.extension.isdigit():
            problems.append(f"{key}.extension: {lot.extension!r} must be digits")
        first, dash, last = lot.slots.partition("-")
        if not (dash and first.isdigit() and last.isdigit() and len(first) == len(last)):
            problems.append(f"{key}.slots: {lot.slots!r} must be FIRST-LAST, digits of one length")
        elif int(first) > int(last):
            problems.append(f"{key}.slots: {lot.slots!r} ends before it starts")
        elif int(last) - int(first) >= 1000:
            problems.append(f"{key}.slots: {lot.slots!r} is more than 1000 slots")
        else:
            ext = lot.extension
            if ext.isdigit() and len(ext) == len(first) and int(first) <= int(ext) <= int(last):
                problems.append(f"{key}.extension: {ext} is one of its own slots")
            for n in range(int(first), int(last) + 1):
                number = str(n).zfill(len(first))
                if number in numbers:
                    problems.append(
                        f"{key}.slots: slot {number} is also the number of {numbers[number]}"
                    )
                    break
            for n in range(int(first), int(last) + 1):
                numbers.setdefault(str(n).zfill(len(first)), f"parking lot {lot.name!r}")
        if lot.extension.isdigit():
            claim(lot.extension, f"parking lot {lot.name!r}")
        if not 1 <= lot.timeout <= 7200:
            problems.append(f"{key}.timeout: between 1 and 7200 seconds")
    codes: dict[str, str] = {}
    for name in ("parkcall", "atxfer", "blindxfer"):
        code = getattr(cfg.features, name)
        if not _DTMF_CODE.match(code):
            problems.append(f"features.{name}: {code!r} must be 1-8 of 0-9, * and #")
        elif code in codes:
            problems.append(f"features.{name}: {code!r} is also features.{codes[code]}")
        codes.setdefault(code, name)
    if not 1 <= cfg.features.transfer_digit_timeout <= 30:
        problems.append("features.transfer_digit_timeout: between 1 and 30 seconds")
    _check_names(
        "transfer_targets",
        "transfer target",
        [(t.name, t.number) for t in cfg.transfer_targets],
        problems,
    )
    for i, t in enumerate(cfg.transfer_targets):
        key = f"transfer_targets[{i}]"
        if not t.number:
            problems.append(f"{key}.number: required (agents and the daemon dial it)")
        elif t.number.isdigit():
            claim(t.number, f"transfer target {t.name!r}")
        if bool(t.contact) == bool(t.dial):
            problems.append(f"{key}: give one of contact (a SIP URI) or dial (a Dial() string)")
        elif t.contact and not _SIP_URI.match(t.contact):
            problems.append(f"{key}.contact: {t.contact!r} is not a SIP URI (sip:user@host:port)")
        elif t.dial and not _DIAL.match(t.dial):
            problems.append(f"{key}.dial: {t.dial!r} is not a Dial() string (TECH/resource)")
        if not 1 <= t.timeout <= 300:
            problems.append(f"{key}.timeout: between 1 and 300 seconds")


def parse_config(
    data: Mapping[str, Any], *, base_dir: Path = Path(), source: str = "config"
) -> Config:
    problems: list[str] = []
    kwargs: dict[str, Any] = {"base_dir": base_dir}
    for key, value in data.items():
        if key in _SECTIONS:
            if not isinstance(value, dict):
                problems.append(f"{key}: must be a table ([{key}])")
                continue
            kwargs[key] = _build(_SECTIONS[key], value, key, problems)
        elif key == "ivr":
            kwargs[key] = _build_ivr(value, problems)
        elif key in _ARRAYS:
            cls = _ARRAYS[key]
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                problems.append(f"{key}: must be an array of tables ([[{key}]])")
                continue
            items = [_build(cls, v, f"{key}[{i}]", problems) for i, v in enumerate(value)]
            kwargs[key] = tuple(x for x in items if x is not None)
        else:
            problems.append(
                f"{key}: unknown section (known: {', '.join([*_SECTIONS, *_ARRAYS, 'ivr'])})"
            )
    if problems:
        raise ConfigError(problems, source)
    cfg = Config(**kwargs)
    _check_values(cfg, problems)
    _check_ivr(cfg, problems)
    _check_groups(cfg, problems)
    _check_pbx(cfg, problems)
    # Each section checks its own values (its settings live beside the package they tune).
    for name in _SECTIONS:
        section = getattr(cfg, name)
        if hasattr(section, "problems"):
            problems.extend(section.problems(name))
    if problems:
        raise ConfigError(problems, source)
    return cfg


ENV_PREFIX = "CALLCENTER_"


def env_overrides(
    data: dict[str, Any], environ: Mapping[str, str], problems: list[str]
) -> dict[str, Any]:
    """``CALLCENTER_<SECTION>__<KEY>=value`` over the file, for systemd and containers
    (``CALLCENTER_DATABASE__URL=postgresql://...``). A value is read as TOML when it is
    one (``8081``, ``true``, ``["mon-fri 08:30-18:15"]``), else as a string."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    for name, raw in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        section, _, key = name[len(ENV_PREFIX) :].lower().partition("__")
        if section not in _SECTIONS or not key:
            known = ", ".join(s.upper() for s in _SECTIONS)
            problems.append(f"{name}: not <SECTION>__<KEY> of a section ({known})")
            continue
        value: Any = raw
        # A secret is always a string: never parsed, so no error message can echo it.
        if not key.endswith("secret"):
            try:
                value = tomllib.loads(f"v = {raw}")["v"]
            except tomllib.TOMLDecodeError:
                value = raw
        table = out.setdefault(section, {})
        if not isinstance(table, dict):
            continue  # reported by parse_config as a bad section
        table[key] = value
    return out


def load_config(path: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Load the file at ``path`` (or $CALLCENTER_CONFIG; none at all means the defaults),
    with the ``CALLCENTER_<SECTION>__<KEY>`` variables of the environment over it."""
    env = os.environ if environ is None else environ
    if path is None:
        path = env.get(DEFAULT_CONFIG_ENV) or None
    if path is None:
        return _with_env({}, env, "defaults")
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror}"], str(p)) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError([f"not valid TOML: {exc}"], str(p)) from None
    return _with_env(data, env, str(p))


def _with_env(data: dict[str, Any], env: Mapping[str, str], source: str) -> Config:
    problems: list[str] = []
    merged = env_overrides(data, env, problems)
    if problems:
        raise ConfigError(problems, source)
    # Relative paths (database file, lab folder) are taken from the working directory,
    # like the embedded defaults, so one checkout behaves the same with or without a file.
    return parse_config(merged, base_dir=Path.cwd(), source=source)
