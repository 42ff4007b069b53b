"""What the agent service refuses, as domain errors.

Every error's message is fit to show the agent; the HTTP layer maps the classes to
status codes (suggested: 404 for unknown agent or queue, 409 for the membership
errors, 422 for a bad reason, 502 for ``PBXError``).
"""

from __future__ import annotations


class AgentError(Exception):
    """Base class of every refusal of the agent service."""


class UnknownAgentError(AgentError, LookupError):
    """No agent with this id in the configuration."""

    def __init__(self, agent_id: str) -> None:
        super().__init__(f"unknown agent {agent_id!r}")
        self.agent_id = agent_id


class UnknownQueueError(AgentError, LookupError):
    """No queue with this name in the configuration."""

    def __init__(self, queue: str) -> None:
        super().__init__(f"unknown queue {queue!r}")
        self.queue = queue


class NotInQueueError(AgentError):
    """The agent is not a member of the queue (``queue`` None: of any queue)."""

    def __init__(self, agent_id: str, queue: str | None) -> None:
        where = f"queue {queue!r}" if queue is not None else "any queue"
        super().__init__(f"agent {agent_id!r} is not logged in to {where}")
        self.agent_id = agent_id
        self.queue = queue


class StaticMemberError(AgentError):
    """The PBX's queues.conf makes the agent a permanent member: it cannot log out there."""

    def __init__(self, agent_id: str, queue: str) -> None:
        super().__init__(
            f"agent {agent_id!r} is a permanent member of queue {queue!r} (set in the PBX's "
            "queues.conf) and cannot log out of it; pause instead"
        )
        self.agent_id = agent_id
        self.queue = queue


class InvalidReasonError(AgentError, ValueError):
    """A pause reason that is empty, too long, or holds control characters."""


class PBXError(AgentError):
    """The PBX refused the action for another reason, or did not answer (AMI error as cause)."""

    def __init__(self, action: str, agent_id: str, queue: str | None, detail: str) -> None:
        where = f" in queue {queue!r}" if queue is not None else ""
        super().__init__(f"{action} for agent {agent_id!r}{where} failed: {detail}")
        self.action = action
        self.agent_id = agent_id
        self.queue = queue
        self.detail = detail
