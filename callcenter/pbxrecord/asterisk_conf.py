"""The Asterisk side of the PBX record: cel.conf and cel_custom.conf.

Rendered for the lab and by ``callcenter dialplan render`` for an existing PBX, so the
file the daemon reads always has the layout its parser expects (``FORMAT`` first).
"""

from __future__ import annotations

# The first column names the layout, so a PBX rendered by an older or newer version is
# refused line by line instead of being misread.
FORMAT = "cc1"
FILE_NAME = "callcenter.csv"

# Column order of one CEL line after the format tag (see cel.parse_line).
COLUMNS = (
    "eventtype",
    "eventtime",
    "cid_name",
    "cid_num",
    "exten",
    "context",
    "channame",
    "appname",
    "appdata",
    "uniqueid",
    "linkedid",
    "peer",
    "userdeftype",
    "extra",
)
_VALUES = (
    "${eventtype}",
    "${eventtime}",
    "${CALLERID(name)}",
    "${CALLERID(num)}",
    "${CHANNEL(exten)}",
    "${CHANNEL(context)}",
    "${CHANNEL(channame)}",
    "${CHANNEL(appname)}",
    "${CHANNEL(appdata)}",
    "${CHANNEL(uniqueid)}",
    "${CHANNEL(linkedid)}",
    "${BRIDGEPEER}",
    "${userdeftype}",
    "${eventextra}",
)

# What the record must hold to classify a call without AMI: channels, answers, bridges
# (who took the call), parking, transfers, the dialplan's stages (CELGenUserEvent) and
# the Queue application's start (the queue join).
EVENTS = (
    "CHAN_START",
    "CHAN_END",
    "ANSWER",
    "HANGUP",
    "APP_START",
    "APP_END",
    "BRIDGE_ENTER",
    "BRIDGE_EXIT",
    "PARK_START",
    "PARK_END",
    "BLINDTRANSFER",
    "ATTENDEDTRANSFER",
    "USER_DEFINED",
    "LINKEDID_END",
)
APPS = ("queue", "dial", "park", "parkedcall")


def cel_conf() -> str:
    # No dateformat: eventtime is then epoch seconds with microseconds.
    return (
        "; callcenter: the PBX record (docs/decisions/0009-pbx-record.md)\n"
        "[general]\n"
        "enable = yes\n"
        f"apps = {','.join(APPS)}\n"
        f"events = {','.join(EVENTS)}\n"
    )


def cel_custom_conf() -> str:
    values = ",".join(f"${{CSV_QUOTE({v})}}" for v in _VALUES)
    return (
        "; callcenter: one CSV line per channel event, in Asterisk's log folder\n"
        "; (cel-custom/callcenter.csv); the daemon reads it with a durable cursor.\n"
        f"[mappings]\n{FILE_NAME} => {FORMAT},{values}\n"
    )
