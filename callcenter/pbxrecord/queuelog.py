"""Asterisk's queue_log lines, parsed. Pure, no I/O.

Asterisk 16 writes each line with one ``fprintf`` (main/logger.c, ``ast_queue_log``):

    epoch|callid|queue|agent|event|data1|data2|...

``epoch`` is whole seconds (``time(NULL)``); ``agent`` is the member's name for PAUSE,
UNPAUSE and the call events, and its interface for ADDMEMBER / REMOVEMEMBER unless
queues.conf has ``log_membername_as_agent = yes`` (apps/app_queue.c). The data fields
are whatever the event's format wrote: a pause reason may itself hold a ``|``, so the
fields are kept split and an event takes what it needs (``rest``).
"""

from __future__ import annotations

from dataclasses import dataclass

# ast_queue_log formats a line into an 8 KiB buffer: a longer line is not one it wrote.
MAX_LINE = 8192
# Before 2001 or after 2286: not a time Asterisk wrote (a damaged or forged field).
MIN_EPOCH, MAX_EPOCH = 1_000_000_000, 10_000_000_000


class QueueLogParseError(ValueError):
    """A line that is not a queue_log record."""


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    time: int  # epoch seconds, Asterisk's clock
    callid: str  # the caller's Uniqueid, or NONE / MANAGER / CLI / REALTIME
    queue: str  # NONE for PAUSEALL / UNPAUSEALL and QUEUESTART
    agent: str
    event: str
    data: tuple[str, ...]

    def field(self, n: int) -> str:
        """data1 is ``field(1)``; "" when the line has fewer."""
        return self.data[n - 1] if 0 < n <= len(self.data) else ""

    @property
    def rest(self) -> str:
        """Every data field joined back: a PAUSE's reason, even one with a ``|`` in it."""
        return "|".join(self.data)


def parse_line(line: str) -> QueueLogLine:
    text = line.rstrip("\r\n")
    if len(text) > MAX_LINE:
        raise QueueLogParseError(f"{len(text)} characters, at most {MAX_LINE}")
    if "\x00" in text:
        raise QueueLogParseError("a NUL in the line")
    cells = text.split("|")
    if len(cells) < 5:
        raise QueueLogParseError(f"{len(cells)} fields, at least 5 expected")
    stamp, callid, queue, agent, event, *data = cells
    if not (stamp.isascii() and stamp.isdigit()):
        raise QueueLogParseError(f"time {stamp[:20]!r} is not epoch seconds")
    t = int(stamp)
    if not MIN_EPOCH <= t < MAX_EPOCH:
        raise QueueLogParseError(f"time {t} is out of range")
    if not event or not (event.isascii() and event.replace("_", "").isalnum()):
        raise QueueLogParseError(f"event {event[:40]!r} is not an event name")
    # Asterisk writes the data fields even when empty ("ADDMEMBER|"): drop that one
    # trailing empty field only, so "PAUSE|" has no reason and "PAUSE|a|" keeps "a|".
    if data == [""]:
        data = []
    return QueueLogLine(t, callid, queue, agent, event[:40], tuple(data))
