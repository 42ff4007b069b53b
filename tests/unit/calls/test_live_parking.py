"""LiveState keeps the parked calls from res_parking's events and the ParkedCalls list."""

from __future__ import annotations

import pytest

from callcenter.telephony.live import LiveState, ParkedCall
from tests.unit.calls.events import (
    AGENT1_LEG,
    AGENT1_UID,
    AGENT2_LEG,
    AGENT2_UID,
    CALLER,
    CALLER_UID,
    T0,
    agent2_pickup_leg,
    answered_call,
    hangup,
    park_ended,
    parked_call,
    parked_calls_list,
    unparked_call,
)


def live_with(*events: dict[str, str]) -> LiveState:
    live = LiveState()
    for ev in [*answered_call(), *events]:
        live.apply(ev)
    return live


def test_a_parked_call_has_its_slot_caller_parker_and_time() -> None:
    live = live_with(parked_call("701", at=T0 + 0.97))
    assert live.parked == {
        CALLER_UID: ParkedCall(
            slot="701",
            lot="default",
            channel=CALLER,
            uniqueid=CALLER_UID,
            linkedid=CALLER_UID,
            caller_num="0311110001",
            caller_name="駐車 太郎",
            parked_at=pytest.approx(T0 + 0.97),  # type: ignore[arg-type]
            timeout=45,
            parker_dial="PJSIP/agent1",
            parker_channel="",
        )
    }
    assert live.parked_in("701") is live.parked[CALLER_UID]
    assert live.parked_in("701", "default") is live.parked[CALLER_UID]
    assert live.parked_in("701", "other") is None
    assert live.parked_in("702") is None


def test_unknown_caller_id_is_empty() -> None:
    live = live_with(parked_call(num="<unknown>", name="<unknown>"))
    p = live.parked[CALLER_UID]
    assert (p.caller_num, p.caller_name) == ("", "")


@pytest.mark.parametrize("event", ["ParkedCallTimeOut", "ParkedCallGiveUp"])
def test_a_timeout_or_give_up_empties_the_slot(event: str) -> None:
    live = live_with(parked_call(), park_ended(event))
    assert live.parked == {}
    assert live.retrieved == {}


def test_a_pick_up_empties_the_slot_and_links_the_retriever_to_the_caller() -> None:
    live = live_with(parked_call(), hangup(AGENT1_LEG, AGENT1_UID, CALLER_UID))
    for ev in [*agent2_pickup_leg(), unparked_call()]:
        live.apply(ev)
    assert live.parked == {}
    assert live.retrieved == {AGENT2_UID: CALLER_UID}
    # Either side hanging up ends the link.
    live.apply(hangup(AGENT2_LEG, AGENT2_UID, CALLER_UID))
    assert live.retrieved == {}
    live.apply(unparked_call())
    assert live.retrieved == {AGENT2_UID: CALLER_UID}
    live.apply(hangup(CALLER, CALLER_UID, CALLER_UID))
    assert live.retrieved == {}


def test_a_parked_caller_hanging_up_leaves_the_slot() -> None:
    live = live_with(parked_call())
    live.apply(hangup(CALLER, CALLER_UID, CALLER_UID))
    assert live.parked == {}


def test_the_same_park_seen_again_in_a_list_keeps_its_exact_time() -> None:
    live = live_with(parked_call(at=T0 + 0.97))
    for ev in parked_calls_list(parked_call(duration=7, action_id="cc-1-2")):
        live.apply(ev)  # the daemon applies the list's events as they arrive
    assert live.parked[CALLER_UID].parked_at == pytest.approx(T0 + 0.97)


def test_resync_replaces_the_parked_calls_with_the_list() -> None:
    live = live_with(parked_call("701"))
    live.parked["gone"] = ParkedCall("705", "default", "PJSIP/x", "gone", "gone", "", "", 1.0, 45)
    now = T0 + 100
    live.resync_parked(
        parked_calls_list(
            parked_call("701", duration=99, action_id="a"),
            parked_call("702", duration=12, action_id="a", num="0322220002", name="新 規")
            | {"ParkeeUniqueid": "cclab-9.9", "ParkeeLinkedid": "cclab-9.9"},
        ),
        now=now,
    )
    assert sorted(live.parked) == [CALLER_UID, "cclab-9.9"]
    assert live.parked[CALLER_UID].parked_at == pytest.approx(T0 + 0.97)  # known: kept
    new = live.parked["cclab-9.9"]
    assert (new.slot, new.caller_num, new.caller_name) == ("702", "0322220002", "新 規")
    assert new.parked_at == pytest.approx(now - 12)


def test_resync_with_an_empty_list_empties_the_slots_and_stale_pick_ups() -> None:
    live = live_with(parked_call())
    live.retrieved["cclab-old.1"] = "cclab-old.0"  # channels no longer up
    live.resync_parked(parked_calls_list())
    assert live.parked == {}
    assert live.retrieved == {}


def test_a_swap_keeps_slot_and_time_with_the_new_channel() -> None:
    live = live_with(parked_call(at=T0 + 1))
    swap = parked_call() | {
        "Event": "ParkedCallSwap",
        "ParkeeChannel": "Local/701@x-00000001;2",
        "ParkeeUniqueid": "cclab-20.1",
    }
    live.apply(swap)
    assert list(live.parked) == ["cclab-20.1"]
    assert live.parked["cclab-20.1"].parked_at == pytest.approx(T0 + 1)
    assert live.parked["cclab-20.1"].channel == "Local/701@x-00000001;2"


def test_events_without_a_parkee_are_ignored() -> None:
    live = LiveState()
    live.apply({"Event": "ParkedCall", "ParkingSpace": "701"})
    assert live.parked == {}
