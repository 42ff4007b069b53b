"""Agents in ACD queues: log in and out, pause with a reason, state from the live PBX."""

from callcenter.agents.errors import (
    AgentError,
    InvalidReasonError,
    NotInQueueError,
    PBXError,
    StaticMemberError,
    UnknownAgentError,
    UnknownQueueError,
)
from callcenter.agents.service import MAX_REASON_BYTES, AgentService, check_reason
from callcenter.agents.state import AgentState, DeviceStatus, Membership

__all__ = [
    "MAX_REASON_BYTES",
    "AgentError",
    "AgentService",
    "AgentState",
    "DeviceStatus",
    "InvalidReasonError",
    "Membership",
    "NotInQueueError",
    "PBXError",
    "StaticMemberError",
    "UnknownAgentError",
    "UnknownQueueError",
    "check_reason",
]
