"""The one-way path of the tracker's facts: each to whom it concerns.

A finished call goes to the calls writer, today's figures and the follow-up list; an
answered call to the incident desk (one incident per call); a survey answer to the desk
after its call's incident. While this daemon stands by for its PBX ([cluster] standby,
callcenter/standby.py) they are held instead, and written once it takes over: every
writer is idempotent per call, so what the active daemon had written is not doubled.
"""

from __future__ import annotations

from datetime import UTC, datetime

import structlog

from callcenter.followups.desk import FollowupDesk
from callcenter.incidents.desk import IncidentDesk
from callcenter.metrics.today import TodaySums
from callcenter.pbxrecord.reconcile import PassResult
from callcenter.standby import ActiveRole
from callcenter.telephony.calls import CallRecord
from callcenter.telephony.callswriter import CallsWriter
from callcenter.telephony.facts import CallAnswered, CallFinished, Fact
from callcenter.telephony.tracker import CallTracker

log = structlog.get_logger("callcenter.daemon")


class FactRouter:
    def __init__(
        self,
        role: ActiveRole,
        calls_writer: CallsWriter,
        today: TodaySums,
        followups: FollowupDesk | None,
        incidents: IncidentDesk | None,
        tracker: CallTracker,
    ) -> None:
        self.role = role
        self.calls_writer = calls_writer
        self.today = today
        self.followups = followups
        self.incidents = incidents
        self.tracker = tracker

    def route(self, facts: list[Fact]) -> None:
        if not self.role.active:
            self._hold(facts)
            return
        desk = self.incidents
        for fact in facts:
            if isinstance(fact, CallFinished):
                self.call_finished(fact.call)
            elif desk is None:
                continue
            elif isinstance(fact, CallAnswered):
                desk.call_answered(fact.call)  # an incident opens: once per call
            else:
                at = datetime.fromtimestamp(fact.at, UTC)
                desk.survey_answer(fact.server_id, fact.linkedid, fact.respondent, fact.answer, at)

    def _hold(self, facts: list[Fact]) -> None:
        """Standing by: what the active daemon writes is held, not written."""
        for fact in facts:
            if isinstance(fact, CallFinished):
                self.today.finished(fact.call)  # the wallboard's figures stay warm
                self.role.hold_finished(fact.call)
            elif isinstance(fact, CallAnswered):
                self.role.hold_answered(fact.call)
            else:
                self.role.hold_survey(fact)

    def write_held(self) -> tuple[int, int]:
        """Taking over: what was held, written (idempotent, so nothing the active daemon
        had written is doubled). Returns (calls finished, calls answered)."""
        finished, answered, surveys = self.role.take_held()
        desk = self.incidents
        if desk is not None:
            for call in answered:
                desk.call_answered(call)  # one incident per call, whoever opened it
            for s in surveys:
                at = datetime.fromtimestamp(s.at, UTC)
                desk.survey_answer(s.server_id, s.linkedid, s.respondent, s.answer, at)
        for call in finished:
            self.calls_writer.add(call)  # by (server, linkedid): written once
            if self.followups is not None:
                self.followups.call_finished(call)
        return len(finished), len(answered)

    def call_finished(self, call: CallRecord) -> None:
        self.calls_writer.add(call)  # an estimate never replaces the record's real times
        self.today.finished(call)
        if self.followups is not None:
            self.followups.call_finished(call)  # the follow-up list decides what it means
        log.info(
            "call.finished",
            linkedid=call.linkedid,
            outcome=call.outcome,
            queue=call.queue,
            agent=call.agent,
            wait=call.wait_seconds,
        )

    def from_record(self, res: PassResult) -> None:
        """Calls the PBX record completed (the AMI stream missed them, or they were
        estimates): their incidents, the follow-up list and today's figures."""
        for call in res.written:
            if self.incidents is not None and call.answered_at is not None:
                self.incidents.call_answered(call)  # one per call: the store is idempotent
            if self.followups is not None:
                self.followups.call_finished(call)  # idempotent per call too
            # Still open here (the link is down, or it was resumed): the record says it
            # ended, so the resync must not finish it again as an estimate.
            self.tracker.forget(call.linkedid)
            self.today.from_record(call, added=call.linkedid in res.added)
            log.info(
                "call.from_pbx_record",
                linkedid=call.linkedid,
                outcome=call.outcome,
                queue=call.queue,
                agent=call.agent,
                replaced_estimate=call.linkedid not in res.added,
            )
