"""What the call-control service refuses, as domain errors.

Every message is fit to show the agent; the HTTP layer maps the classes to status codes
(suggested: 404 unknown agent or slot, 409 agent not on a call / busy, 422 bad
destination, 502 ``PBXError``).
"""

from __future__ import annotations


class CallControlError(Exception):
    """Base class of every refusal of the call-control service."""


class UnknownAgentError(CallControlError, LookupError):
    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id!r}")
        self.agent_id = agent_id


class NotOnCallError(CallControlError):
    """The agent's phone is not connected to a caller."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {agent_id!r} is not talking to a caller")
        self.agent_id = agent_id


class AgentBusyError(CallControlError):
    """The agent's phone is already on a call: it cannot take a parked one."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"agent {agent_id!r} is already on a call")
        self.agent_id = agent_id


class UnknownSlotError(CallControlError, LookupError):
    """No call is parked in that slot."""

    def __init__(self, slot: str) -> None:
        super().__init__(f"no call is parked in slot {slot!r}")
        self.slot = slot


class InvalidDestinationError(CallControlError, ValueError):
    """A transfer target that is not a dialable extension."""


class PBXError(CallControlError):
    """The PBX refused the action or did not answer (the AMI error is the cause)."""

    def __init__(self, action: str, agent_id: str, detail: str) -> None:
        super().__init__(f"{action} for agent {agent_id!r} failed: {detail}")
        self.action = action
        self.agent_id = agent_id
        self.detail = detail
