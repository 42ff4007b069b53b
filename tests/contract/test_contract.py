"""Contract tests from the API's own description (issue 11): for every operation that
``GET /api/v1/openapi.json`` lists and for each role (agent, supervisor, admin, auditor,
and no token), schemathesis generates requests, positive and negative, sends them to the real
application on a real port, and checks that no answer is a 5xx and that each one is
documented: its status, its content type and its body's schema.

One test per role (the ``served`` fixture's parameter); the failure message lists every
kind of failure found, with the request and the answer that showed it."""

from __future__ import annotations

from tests.contract.conftest import Served
from tests.contract.harness import Contract, allowed, described, summary

MAX_EXAMPLES = 15  # per operation and role, in the fuzzing phase


def test_every_operation_answers_as_documented(served: Served) -> None:
    contract = Contract(served.schema, served.base_url, served.role, served.token, served.signer)
    findings = contract.run(MAX_EXAMPLES)
    assert not findings, summary(findings)
    # Every operation the description lists was tried, each with several requests.
    assert sorted(contract.sent) == described(served.schema.raw_schema)
    assert min(contract.sent.values()) >= MAX_EXAMPLES // 2, contract.sent
    # And the run got past the refusals: with a token, most operations answered 2xx.
    succeeded = [op for op, st in contract.statuses.items() if any(200 <= s < 300 for s in st)]
    if served.role == "auditor":
        # Reads everything, changes nothing (the second line's route signs, not a role).
        changed = [op for op in succeeded if not op.startswith("GET ") and "second-line" not in op]
        assert changed == [], contract.statuses
    if served.token is not None:
        # Of what the role may call (the description says who may), most answered 2xx.
        mine = allowed(served.schema.raw_schema, served.role)
        assert len([op for op in succeeded if op in mine]) > len(mine) // 2, contract.statuses
