"""The snapshot a (re)connect's resync starts from: CoreStatus, QueueStatus,
CoreShowChannels and ParkedCalls, and the channel list corrected for the events that
arrived while it was taken."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import structlog

from callcenter.ami import AMIActionError, AMIClient, Message

log = structlog.get_logger("callcenter.daemon")


def as_of_now(channels: list[Message], backlog: list[Message]) -> list[Mapping[str, str]]:
    """The snapshot as of now: the tracker has already seen the events since it began.

    A channel that hung up after it was listed is dropped; one that appeared meanwhile
    is added as present (its call is open already, so it is not opened twice).
    """
    hung_up = {e.get("Uniqueid") for e in backlog if e.get("Event") == "Hangup"}
    current: list[Mapping[str, str]] = [c for c in channels if c.get("Uniqueid") not in hung_up]
    current += [
        {"Event": "CoreShowChannel", "Uniqueid": e.get("Uniqueid", ""), "Linkedid": ""}
        for e in backlog
        if e.get("Event") == "Newchannel" and e.get("Uniqueid") not in hung_up
    ]
    return current


async def take_snapshot(client: AMIClient) -> tuple[list[Message], list[Message], str]:
    # Asterisk accepts AMI logins while it is still loading modules: right after a
    # restart QueueStatus may not exist yet. Retry until it does (or the connection
    # drops, and the next connect starts a fresh resync).
    for attempt in range(1, 121):
        try:
            status = await client.action("CoreStatus")
            queues = await client.action_list("QueueStatus")
            channels = await client.action_list("CoreShowChannels")
            # Asterisk's start time tells a reconnect from a restart of the PBX.
            started = f"{status.get('CoreStartupDate')} {status.get('CoreStartupTime')}"
            return queues, channels, started
        except AMIActionError as exc:
            if "unknown command" not in exc.reason.lower():
                raise
            log.info("ami.resync_waiting", attempt=attempt, reason=exc.reason[:60])
            await asyncio.sleep(0.5)
    raise AMIActionError("QueueStatus", "not available after 60s (is app_queue loaded?)")


async def take_parked(client: AMIClient) -> list[Message] | None:
    # Not in take_snapshot's retry loop: without res_parking this would wait a minute.
    try:
        return await client.action_list("ParkedCalls")
    except AMIActionError as exc:
        log.warning("ami.parked_calls_unavailable", reason=exc.reason[:80])
        return None
