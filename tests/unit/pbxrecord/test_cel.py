"""CEL lines from the lab -> the same call records the live tracker makes."""

from __future__ import annotations

from pathlib import Path

import pytest

from callcenter.pbxrecord.asterisk_conf import COLUMNS, cel_conf, cel_custom_conf
from callcenter.pbxrecord.cel import CelParseError, build_calls, parse_line, to_events
from callcenter.telephony.calls import AbandonStage, Outcome

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "cel" / "two_calls.csv"
AGENTS = {"agent1": "Agent 1"}


def lines() -> list[str]:
    return FIXTURE.read_text(encoding="utf-8").splitlines()


def test_every_lab_line_parses_with_its_japanese_name() -> None:
    rows = [parse_line(ln) for ln in lines()]
    assert len(rows) == 23
    first = rows[0]
    assert first.eventtype == "CHAN_START"
    assert first.get("cid_name") == "山田 太郎"
    assert first.eventtime == pytest.approx(1796370105.282584)
    assert first.linkedid == "cclab-1796370105.0"
    stage = rows[1]
    assert stage.is_user_event
    (ev,) = to_events(stage, AGENTS)
    assert ev["Event"] == "UserEvent"
    assert (ev["Stage"], ev["Queue"], ev["Dnis"]) == ("entered", "support", "1000")


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ("", "format tag"),
        ('cc0,"CHAN_START"', "format tag"),
        ('cc1,"CHAN_START","1.5"', "columns"),
        ("cc1," + ",".join(['"x"'] * len(COLUMNS)), "eventtime"),
        ("cc1," + ",".join(['"CHAN_START"', '"1e19"'] + ['"u"'] * (len(COLUMNS) - 2)), "range"),
        ("cc1," + ",".join(['"CHAN_START"', '"nan"'] + ['"u"'] * (len(COLUMNS) - 2)), "range"),
    ],
)
def test_bad_lines_are_refused_with_the_reason(line: str, why: str) -> None:
    with pytest.raises(CelParseError, match=why):
        parse_line(line)


def test_the_two_lab_calls_classify_as_the_live_tracker_would() -> None:
    built = build_calls(
        [parse_line(ln) for ln in lines()], "lab", short_abandon_seconds=5, agent_names=AGENTS
    )
    assert built.still_open == []
    by_num = {c.caller_num: c for c in built.finished}
    answered, ivr = by_num["0311110001"], by_num["0311110002"]
    assert answered.outcome is Outcome.ANSWERED
    assert answered.agent == "Agent 1"
    assert answered.agent_interface == "PJSIP/agent1"
    assert answered.queue == "support"
    assert answered.dnis == "1000"
    assert answered.caller_name == "山田 太郎"
    assert answered.arrived_at == pytest.approx(1796370105.282584)
    assert answered.queued_at == pytest.approx(1796370105.784873)
    assert answered.answered_at == pytest.approx(1796370106.294083)
    assert answered.ended_at == pytest.approx(1796370107.291247)
    assert answered.wait_seconds == pytest.approx(0.50921, abs=1e-4)
    assert answered.estimated is False
    # Hung up in the menu after half a second: a one-ring hang-up, not an abandon.
    assert ivr.outcome is Outcome.SHORT_ABANDONED
    assert ivr.abandon_stage is AbandonStage.IVR
    assert ivr.dnis == "2000"


def test_order_in_the_file_does_not_matter() -> None:
    rows = [parse_line(ln) for ln in reversed(lines())]
    built = build_calls(rows, "lab", short_abandon_seconds=5, agent_names=AGENTS)
    assert sorted(c.outcome for c in built.finished if c.outcome) == sorted(
        [Outcome.ANSWERED, Outcome.SHORT_ABANDONED]
    )


def test_a_call_still_up_in_the_record_stays_open() -> None:
    rows = [parse_line(ln) for ln in lines()[:8]]  # up to the agent's answer
    built = build_calls(rows, "lab", short_abandon_seconds=5, agent_names=AGENTS)
    assert built.finished == []
    assert [c.caller_num for c in built.still_open] == ["0311110001"]


def test_asterisk_config_records_what_classification_needs() -> None:
    conf = cel_conf()
    for needed in ("CHAN_START", "HANGUP", "BRIDGE_ENTER", "USER_DEFINED", "APP_START"):
        assert needed in conf
    assert "queue" in conf.split("apps = ")[1].splitlines()[0]
    custom = cel_custom_conf()
    # One CSV_QUOTE per column, after the format tag.
    assert custom.count("CSV_QUOTE") == len(COLUMNS)
    assert "callcenter.csv => cc1," in custom
