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
from callcenter.ami.protocol import (
    AMI_UNSAFE,
    AMIFramer,
    FrameError,
    Message,
    describe_character,
    encode_action,
    parse_frame,
    unsafe_character,
)

__all__ = [
    "AMI_UNSAFE",
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
    "describe_character",
    "encode_action",
    "parse_frame",
    "unsafe_character",
]
