"""Call control for agents: parked hold (park / pick up) and transfers (blind, attended)."""

from callcenter.calls.errors import (
    AgentBusyError,
    CallControlError,
    InvalidDestinationError,
    NotOnCallError,
    PBXError,
    UnknownAgentError,
    UnknownSlotError,
)
from callcenter.calls.service import CallControl, Parked, Transfer

__all__ = [
    "AgentBusyError",
    "CallControl",
    "CallControlError",
    "InvalidDestinationError",
    "NotOnCallError",
    "PBXError",
    "Parked",
    "Transfer",
    "UnknownAgentError",
    "UnknownSlotError",
]
