"""Test doubles for the service-hours tests: a settable clock and an AMI that records DBPut."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from callcenter.ami import AMIActionError, AMIConnectionError, Message
from callcenter.ami.protocol import HeaderValue

TZ = ZoneInfo("Asia/Tokyo")


def jst(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0, us: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, us, tzinfo=TZ)


class FakeClock:
    """Pretends it is ``start``; with ``running`` it then moves on with the real time."""

    def __init__(self, start: datetime, *, running: bool = False) -> None:
        self.running = running
        self.set(start)

    def set(self, when: datetime) -> None:
        self._start, self._base = when, time.monotonic()

    def advance(self, seconds: float) -> None:
        self.set(self() + timedelta(seconds=seconds))

    def __call__(self) -> datetime:
        if not self.running:
            return self._start
        return self._start + timedelta(seconds=time.monotonic() - self._base)


@dataclass
class Put:
    key: str
    value: str
    at: datetime  # the fake clock's time of the write
    real: float  # and the real time


@dataclass
class FakeAMI:
    """Answers DBPut, DBGet and DBDel like Asterisk and records each DBPut, with when it
    came."""

    clock: FakeClock
    puts: list[Put] = field(default_factory=list)
    db: dict[tuple[str, str], str] = field(default_factory=dict)
    down: bool = False

    async def action(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
    ) -> Message:
        if self.down:
            raise AMIConnectionError("not connected to 127.0.0.1:5038")
        assert headers is not None
        if action == "DBDel":
            if self.db.pop((str(headers["Family"]), str(headers["Key"])), None) is None:
                raise AMIActionError("DBDel", "Database entry could not be deleted")
            return Message({"Response": "Success", "Message": "Key deleted successfully"})
        assert action == "DBPut"
        family, key, value = (str(headers[k]) for k in ("Family", "Key", "Val"))
        self.db[(family, key)] = value
        self.puts.append(Put(key, value, self.clock(), time.time()))
        return Message({"Response": "Success", "Message": "Updated database successfully"})

    async def action_list(
        self,
        action: str,
        headers: Mapping[str, HeaderValue] | None = None,
        *,
        timeout: float | None = None,
    ) -> list[Message]:
        if self.down:
            raise AMIConnectionError("not connected to 127.0.0.1:5038")
        assert action == "DBGet"
        assert headers is not None
        family, key = str(headers["Family"]), str(headers["Key"])
        if (family, key) not in self.db:
            raise AMIActionError("DBGet", "Database entry not found")
        return [
            Message({"Response": "Success", "EventList": "start"}),
            Message(
                {
                    "Event": "DBGetResponse",
                    "Family": family,
                    "Key": key,
                    "Val": self.db[(family, key)],
                }
            ),
            Message({"Event": "DBGetComplete", "EventList": "Complete", "ListItems": "1"}),
        ]

    def modes(self) -> list[str]:
        return [p.value for p in self.puts if p.key == "mode"]
