"""What the daemon tells the parts in front of it (the HTTP API and its live websocket),
without knowing them: they sit above the daemon and attach themselves to it
(``Daemon.attach``), so the data flows one way, from the PBX up to the pages."""

from __future__ import annotations

from typing import Protocol

from callcenter.incidents.model import Incident


class Front(Protocol):
    name: str

    async def start(self) -> None:
        """Started with the daemon, after its stores and its AMI client."""

    async def stop(self) -> None:
        """Stopped before them."""

    def changed(self) -> None:
        """The live state may have changed what the pages show (after a burst of events
        or a resync). Cheap: the front decides when to look."""

    def incident_opened(self, incident: Incident) -> None:
        """An incident was opened for an answered call; called from any thread."""
