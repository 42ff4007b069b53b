"""The incident store's tests again on PostgreSQL (the production path): the same test
functions, collected here with an ``engine`` fixture that gives a private PostgreSQL.
Its ON CONFLICT, JSONB and row-version paths differ from SQLite's."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, delete

from callcenter.incidents.store import HISTORY, INCIDENTS, SURVEYS
from callcenter.webhooks.outbox import TABLE as OUTBOX
from tests.unit.incidents.test_store import (  # noqa: F401 (collected here again)
    test_a_refused_change_changes_nothing,
    test_a_repeat_caller_is_linked_to_the_open_incident,
    test_a_survey_without_an_incident_is_kept_unlinked,
    test_an_answered_call_opens_one_incident_with_its_facts,
    test_concurrent_changes_are_all_kept,
    test_search_filters,
    test_surveys_are_stored_once_and_all_or_none,
    test_the_desk_opens_in_order_and_retries_through_an_outage,
    test_the_lifecycle_keeps_history_and_sends_its_webhooks,
    test_times_in_any_zone_come_back_as_the_same_instant,
    test_two_writers_opening_the_same_call_make_one_incident,
)


@pytest.fixture
def engine(pg_engine: Engine) -> Engine:
    with pg_engine.begin() as conn:
        for table in (INCIDENTS, HISTORY, SURVEYS, OUTBOX):
            conn.execute(delete(table))
    return pg_engine
