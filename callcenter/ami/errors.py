"""AMI error hierarchy.

Each error also subclasses the closest stdlib type so callers that only know
``ConnectionError`` or ``ValueError`` still catch the right thing.
"""

from __future__ import annotations


class AMIError(Exception):
    """Base class of every AMI error."""


class AMIConnectionError(AMIError, ConnectionError):
    """The TCP connection to the manager failed or was lost."""


class AMIAuthenticationError(AMIConnectionError):
    """The manager refused the login. The message never carries the secret."""


class AMIProtocolError(AMIError, ValueError):
    """Bytes from the manager that are not a valid AMI frame."""


class AMIFrameTooLarge(AMIProtocolError):
    """A frame grew past the configured limit without its terminating blank line."""


class AMIInjectionError(AMIError, ValueError):
    """An action header name or value AMI cannot carry (a control character, or a bad name).

    ``header`` names the header (``Action`` and ``ActionID`` included) when it is known.
    """

    def __init__(self, message: str, *, header: str | None = None) -> None:
        super().__init__(message)
        self.header = header


class AMIActionError(AMIError):
    """The manager answered an action with ``Response: Error``."""

    def __init__(self, action: str, message: str) -> None:
        super().__init__(f"AMI action {action} failed: {message}")
        self.action = action
        self.reason = message


class AMITimeoutError(AMIError, TimeoutError):
    """No (complete) response to an action in time."""
