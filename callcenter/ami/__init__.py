"""Asterisk Manager Interface: framing, client, errors. No domain imports here."""

from callcenter.ami.client import AMIActions, AMIClient, AMIListActions
from callcenter.ami.errors import (
    AMIActionError,
    AMIAuthenticationError,
    AMIConnectionError,
    AMIError,
    AMIFrameTooLarge,
    AMIInjectionError,
    AMIProtocolError,
    AMITimeoutError,
)
from callcenter.ami.protocol import AMIFramer, FrameError, Message, encode_action, parse_frame

__all__ = [
    "AMIActionError",
    "AMIActions",
    "AMIAuthenticationError",
    "AMIClient",
    "AMIConnectionError",
    "AMIError",
    "AMIFrameTooLarge",
    "AMIFramer",
    "AMIInjectionError",
    "AMIListActions",
    "AMIProtocolError",
    "AMITimeoutError",
    "FrameError",
    "Message",
    "encode_action",
    "parse_frame",
]
