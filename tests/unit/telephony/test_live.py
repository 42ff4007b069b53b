"""Live state: events move it, a resync replaces it."""

from __future__ import annotations

from callcenter.telephony.live import LiveState


def newchannel(uid: str, name: str = "山田 太郎") -> dict[str, str]:
    return {
        "Event": "Newchannel",
        "Uniqueid": uid,
        "Linkedid": uid,
        "Channel": f"PJSIP/trunk-{uid}",
        "ChannelStateDesc": "Ring",
        "CallerIDNum": "0312345678",
        "CallerIDName": name,
    }


QUEUE_STATUS = [
    {"Response": "Success", "EventList": "start"},
    {"Event": "QueueParams", "Queue": "support", "Strategy": "rrmemory", "Max": "5"},
    {
        "Event": "QueueMember",
        "Queue": "support",
        "Name": "Agent 1",
        "Location": "PJSIP/agent1",
        "StateInterface": "PJSIP/agent1",
        "Status": "1",
        "Paused": "0",
        "PausedReason": "",
    },
    {
        "Event": "QueueMember",
        "Queue": "support",
        "Name": "Agent 2",
        "Location": "PJSIP/agent2",
        "StateInterface": "PJSIP/agent2",
        "Status": "5",
        "Paused": "1",
        "PausedReason": "lunch",
    },
    {
        "Event": "QueueEntry",
        "Queue": "support",
        "Position": "1",
        "Channel": "PJSIP/trunk-b",
        "Uniqueid": "b",
        "CallerIDNum": "0300000000",
        "CallerIDName": "佐藤 花子",
    },
    {"Event": "QueueStatusComplete", "EventList": "Complete"},
]
CHANNELS = [
    {"Response": "Success", "EventList": "start"},
    {
        "Event": "CoreShowChannel",
        "Uniqueid": "b",
        "Linkedid": "b",
        "Channel": "PJSIP/trunk-b",
        "ChannelStateDesc": "Up",
        "CallerIDNum": "0300000000",
        "CallerIDName": "佐藤 花子",
    },
    {"Event": "CoreShowChannelsComplete", "EventList": "Complete"},
]


def test_events_track_channels_and_queue_entries() -> None:
    s = LiveState()
    s.apply(newchannel("a"))
    s.apply({"Event": "Newstate", "Uniqueid": "a", "ChannelStateDesc": "Up"})
    s.apply(
        {
            "Event": "QueueCallerJoin",
            "Queue": "support",
            "Uniqueid": "a",
            "Position": "1",
            "Channel": "PJSIP/trunk-a",
            "CallerIDNum": "0312345678",
            "CallerIDName": "山田 太郎",
        }
    )
    assert s.channels["a"].state == "Up"
    assert s.queues["support"].entries["a"].caller_name == "山田 太郎"
    s.apply({"Event": "QueueCallerAbandon", "Queue": "support", "Uniqueid": "a"})
    assert s.queues["support"].entries == {}
    s.apply({"Event": "Hangup", "Uniqueid": "a"})
    assert s.channels == {}


def test_callers_behind_one_who_left_move_up() -> None:
    s = LiveState()

    def join(uid: str, position: int) -> None:
        s.apply(
            {
                "Event": "QueueCallerJoin",
                "Queue": "support",
                "Uniqueid": uid,
                "Position": str(position),
            }
        )

    for n, uid in enumerate("abcd", start=1):
        join(uid, n)
    for uid in "abc":
        s.apply({"Event": "QueueCallerLeave", "Queue": "support", "Uniqueid": uid})
    s.apply({"Event": "QueueCallerLeave", "Queue": "support", "Uniqueid": "c"})  # (again)
    join("e", 2)  # behind d, who waited longer and is first now
    entries = s.queues["support"].entries
    assert {uid: e.position for uid, e in entries.items()} == {"d": 1, "e": 2}


def test_member_events() -> None:
    s = LiveState()
    s.apply(
        {
            "Event": "QueueMemberAdded",
            "Queue": "support",
            "Interface": "PJSIP/agent1",
            "MemberName": "Agent 1",
            "Status": "1",
            "Paused": "0",
        }
    )
    s.apply(
        {
            "Event": "QueueMemberPause",
            "Queue": "support",
            "Interface": "PJSIP/agent1",
            "MemberName": "Agent 1",
            "Status": "1",
            "Paused": "1",
            "PausedReason": "break",
        }
    )
    m = s.queues["support"].members["PJSIP/agent1"]
    assert (m.paused, m.paused_reason) == (True, "break")
    s.apply({"Event": "QueueMemberRemoved", "Queue": "support", "Interface": "PJSIP/agent1"})
    assert s.queues["support"].members == {}


def test_resync_replaces_stale_state() -> None:
    s = LiveState()
    s.apply(newchannel("gone"))  # its Hangup was lost while disconnected
    s.reset_from_resync(QUEUE_STATUS, CHANNELS)
    assert set(s.channels) == {"b"}
    q = s.queues["support"]
    assert (q.strategy, q.maxlen) == ("rrmemory", 5)
    assert q.members["PJSIP/agent2"].paused_reason == "lunch"
    assert q.members["PJSIP/agent1"].name == "Agent 1"
    assert q.entries["b"].caller_name == "佐藤 花子"
    assert s.resyncs == 1


def test_unknown_events_are_ignored() -> None:
    s = LiveState()
    s.apply({"Event": "VarSet", "Uniqueid": "x"})
    s.apply({"Response": "Success"})
    assert s.channels == {}
    assert s.queues == {}
