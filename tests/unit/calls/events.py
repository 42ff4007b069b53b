"""AMI events of parking and of agents' calls, as the lab Asterisk 16.28 sends them.

Header sets copied from the lab (tests/integration/test_park_transfer.py runs): a
queue call answered by agent1, parked with AMI Park, listed by ParkedCalls, picked
up by an Originate of agent2 into ``parkedcalls``, or timed out back to agent1.
"""

from __future__ import annotations

from collections.abc import Mapping

from callcenter.dialplan.settings import AgentConfig

Event = dict[str, str]

AGENTS = (
    AgentConfig(id="agent1", name="Agent 1", queues=("support",), contact="sip:a1@127.0.0.1:5071"),
    AgentConfig(
        id="agent2", name="Agent 2", queues=("support", "small"), contact="sip:a2@127.0.0.1:5072"
    ),
)

T0 = 1795411410.0
CALLER_UID = "cclab-1795411410.0"
AGENT1_UID = "cclab-1795411410.1"
AGENT2_UID = "cclab-1795411414.2"
CALLER = "PJSIP/trunk-00000000"
AGENT1_LEG = "PJSIP/agent1-00000001"
AGENT2_LEG = "PJSIP/agent2-00000002"


def newchannel(
    channel: str, uid: str, linkedid: str, num: str, name: str, context: str, exten: str
) -> Event:
    return {
        "Event": "Newchannel",
        "Privilege": "call,all",
        "Timestamp": f"{T0:.6f}",
        "SystemName": "cclab",
        "Channel": channel,
        "ChannelState": "0",
        "ChannelStateDesc": "Down",
        "CallerIDNum": num,
        "CallerIDName": name,
        "ConnectedLineNum": "<unknown>",
        "ConnectedLineName": "<unknown>",
        "Language": "en",
        "AccountCode": "",
        "Context": context,
        "Exten": exten,
        "Priority": "1",
        "Uniqueid": uid,
        "Linkedid": linkedid,
    }


def newstate(channel: str, uid: str, linkedid: str, state: str = "Up") -> Event:
    return {
        "Event": "Newstate",
        "Channel": channel,
        "ChannelState": {"Up": "6", "Ringing": "5", "Ring": "4"}[state],
        "ChannelStateDesc": state,
        "Uniqueid": uid,
        "Linkedid": linkedid,
    }


def hangup(channel: str, uid: str, linkedid: str) -> Event:
    return {
        "Event": "Hangup",
        "Channel": channel,
        "Uniqueid": uid,
        "Linkedid": linkedid,
        "Cause": "16",
        "Cause-txt": "Normal Clearing",
    }


def answered_call(caller_num: str = "0311110001", caller_name: str = "駐車 太郎") -> list[Event]:
    """A caller on 1000, agent1's phone rings and answers (the queue's dial)."""
    return [
        newchannel(CALLER, CALLER_UID, CALLER_UID, caller_num, caller_name, "from-trunk", "1000"),
        newstate(CALLER, CALLER_UID, CALLER_UID),
        newchannel(AGENT1_LEG, AGENT1_UID, CALLER_UID, "agent1", "Agent 1", "from-agents", "s"),
        newstate(AGENT1_LEG, AGENT1_UID, CALLER_UID, "Ringing"),
        newstate(AGENT1_LEG, AGENT1_UID, CALLER_UID),
        *bridged(BRIDGE, CALLER, CALLER_UID, AGENT1_LEG, AGENT1_UID),
    ]


BRIDGE = "b1d9e0c7-0000-4000-8000-000000000001"


def bridged(bridge: str, *legs: str) -> list[Event]:
    """BridgeEnter for each (channel, uniqueid) pair given, as app_queue's bridge sends."""
    pairs = list(zip(legs[0::2], legs[1::2], strict=True))
    return [
        {
            "Event": "BridgeEnter",
            "BridgeUniqueid": bridge,
            "BridgeType": "basic",
            "Channel": channel,
            "Uniqueid": uid,
            "Linkedid": CALLER_UID,
        }
        for channel, uid in pairs
    ]


def _parkee(num: str, name: str) -> Event:
    return {
        "ParkeeChannel": CALLER,
        "ParkeeChannelState": "6",
        "ParkeeChannelStateDesc": "Up",
        "ParkeeCallerIDNum": num,
        "ParkeeCallerIDName": name,
        "ParkeeConnectedLineNum": "agent1",
        "ParkeeConnectedLineName": "Agent 1",
        "ParkeeLanguage": "en",
        "ParkeeAccountCode": "",
        "ParkeeContext": "callcenter-queue-join",
        "ParkeeExten": "support",
        "ParkeePriority": "5",
        "ParkeeUniqueid": CALLER_UID,
        "ParkeeLinkedid": CALLER_UID,
    }


def parked_call(
    slot: str = "701",
    *,
    at: float = T0 + 0.97,
    timeout: int = 45,
    duration: int = 0,
    num: str = "0311110001",
    name: str = "駐車 太郎",
    action_id: str | None = None,
) -> Event:
    """ParkedCall: as an event (Timestamp), or in a ParkedCalls list (ActionID, no Timestamp)."""
    head: Event = {"Event": "ParkedCall"}
    if action_id is None:
        head |= {"Privilege": "call,all", "Timestamp": f"{at:.6f}", "SystemName": "cclab"}
    ev = (
        head
        | _parkee(num, name)
        | {
            "ParkerDialString": "PJSIP/agent1",
            "Parkinglot": "default",
            "ParkingSpace": slot,
            "ParkingTimeout": str(timeout),
            "ParkingDuration": str(duration),
        }
    )
    if action_id is not None:
        ev["ActionID"] = action_id
    return ev


def unparked_call(slot: str = "701", *, at: float = T0 + 4.94) -> Event:
    return {
        "Event": "UnParkedCall",
        "Privilege": "call,all",
        "Timestamp": f"{at:.6f}",
        "SystemName": "cclab",
        **_parkee("0311110001", "駐車 太郎"),
        "RetrieverChannel": AGENT2_LEG,
        "RetrieverChannelState": "6",
        "RetrieverChannelStateDesc": "Up",
        "RetrieverCallerIDNum": "0311110001",
        "RetrieverCallerIDName": "駐車 太郎",
        "RetrieverContext": "parkedcalls",
        "RetrieverExten": slot,
        "RetrieverPriority": "1",
        "RetrieverUniqueid": AGENT2_UID,
        "RetrieverLinkedid": AGENT2_UID,
        "ParkerDialString": "PJSIP/agent1",
        "Parkinglot": "default",
        "ParkingSpace": slot,
        "ParkingTimeout": "41",
        "ParkingDuration": "4",
    }


def park_ended(event: str, slot: str = "701", *, at: float = T0 + 4.0) -> Event:
    """ParkedCallTimeOut or ParkedCallGiveUp: Parkee and Parker headers, no Retriever."""
    return {
        "Event": event,
        "Privilege": "call,all",
        "Timestamp": f"{at:.6f}",
        "SystemName": "cclab",
        **_parkee("0311110001", "駐車 太郎"),
        "ParkerDialString": "PJSIP/agent1",
        "Parkinglot": "default",
        "ParkingSpace": slot,
        "ParkingTimeout": "0",
        "ParkingDuration": "3",
    }


def parked_calls_list(*items: Mapping[str, str], action_id: str = "cc-f13acd-2") -> list[Event]:
    """The ParkedCalls action's answer as AMIClient.action_list returns it."""
    return [
        {
            "Response": "Success",
            "ActionID": action_id,
            "EventList": "start",
            "Message": "Parked calls will follow",
        },
        *(dict(i) for i in items),
        {
            "Event": "ParkedCallsComplete",
            "ActionID": action_id,
            "EventList": "Complete",
            "ListItems": str(len(items)),
            "Total": str(len(items)),
        },
    ]


def agent2_pickup_leg() -> list[Event]:
    """agent2's phone, originated into parkedcalls,701: a Linkedid of its own."""
    return [
        newchannel(AGENT2_LEG, AGENT2_UID, AGENT2_UID, "agent2", "Agent 2", "parkedcalls", "701"),
        newstate(AGENT2_LEG, AGENT2_UID, AGENT2_UID),
    ]
