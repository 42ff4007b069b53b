"""The contract run's parts, shared by the in-process run (tests/contract) and the run
against the daemon on the lab (tests/integration/test_contract_daemon.py): the roles,
the schemathesis configuration, seeding incidents over HTTP, and the test body.

The schema is the one the application serves at ``GET /api/v1/openapi.json``: nothing
here describes the API, it only says which values the generated requests should also
try for path parameters (ids of rows that exist) and which checks judge the answers.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import BaseSchema, Case, CheckFunction
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Err
from schemathesis.core.transport import Response
from schemathesis.pytest.lazy import get_all_tests
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from callcenter.followups.store import FollowupStore
from callcenter.telephony.calls import CallRecord, Outcome
from callcenter.webhooks.signing import signed_headers

API = "/api/v1"
OPENAPI = f"{API}/openapi.json"
SECOND_LINE = f"{API}/second-line/"
# Every role a token can have, and no token at all.
ROLES = ("agent", "supervisor", "admin", "auditor", "anonymous")
# Who each role's token is: (name, role, agent_id).
PEOPLE: dict[str, tuple[str, str, str | None]] = {
    "agent": ("tanaka", "agent", "agent1"),
    "supervisor": ("suzuki", "supervisor", None),
    "admin": ("ops-admin", "admin", None),
    "auditor": ("sla-audit", "auditor", None),
}
# "No 5xx, and every response conforms to its documented schema": the status is one the
# operation documents, the content type is the documented one, the body its schema.
CHECKS: list[CheckFunction] = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SEED = 20261118


def hypothesis_settings(max_examples: int) -> settings:
    """Bounded and reproducible: the same requests on every run, no example database."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        # Nothing fails inside Hypothesis (failures are collected), so nothing to shrink.
        phases=[Phase.explicit, Phase.generate],
        print_blob=False,
    )


def schemathesis_config(
    *,
    base_url: str,
    incident_ids: list[int],
    agent_ids: list[str],
    followup_ids: list[int] | None = None,
    queue_names: list[str],
    coverage: bool,
) -> SchemathesisConfig:
    """Positive and negative cases; the generated path ids are often rows that exist."""

    def bind(dictionary: str) -> dict[str, Any]:
        return {"dictionary": dictionary, "probability": 0.7}

    return SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": base_url,
            "generation": {
                "mode": "all",
                "deterministic": True,
                # The test sends each role's own Authorization header, and only that.
                "with-security-parameters": False,
            },
            "phases": {
                "examples": {"enabled": True},
                "coverage": {"enabled": coverage},
                "fuzzing": {"enabled": True},
                "stateful": {"enabled": False},
            },
            "dictionaries": {
                "incident_ids": {"values": incident_ids},
                "escalated_ids": {"values": [incident_ids[ESCALATED]]},
                "agent_ids": {"values": agent_ids},
                "followup_ids": {"values": followup_ids or [1]},
                "queue_names": {"values": queue_names},
            },
            "operations": [
                {
                    "include-path-regex": r"^/api/v1/incidents/\{id\}",
                    "parameters": {"path.id": bind("incident_ids")},
                },
                {
                    # The signed body must name the incident of the path, an escalated one.
                    "include-path-regex": r"^/api/v1/second-line/incidents/\{id\}",
                    "parameters": {
                        "path.id": bind("escalated_ids"),
                        "body.incident_id": bind("escalated_ids"),
                    },
                },
                {
                    "include-path-regex": r"^/api/v1/followups/\{id\}",
                    "parameters": {"path.id": bind("followup_ids")},
                },
                {
                    "include-path-regex": r"^/api/v1/agents/\{id\}",
                    "parameters": {"path.id": bind("agent_ids")},
                },
                {
                    "include-path-regex": r"^/api/v1/queues/\{name\}",
                    "parameters": {"path.name": bind("queue_names")},
                },
            ],
        }
    )


async def fetch_description(base_url: str) -> dict[str, Any]:
    """The application's own description, as it serves it (no token: it is public)."""
    async with (
        aiohttp.ClientSession(raise_for_status=True) as http,
        http.get(f"{base_url}{OPENAPI}") as r,
    ):
        doc: dict[str, Any] = await r.json()
    return doc


def load_schema(doc: dict[str, Any], config: SchemathesisConfig) -> BaseSchema:
    """From the fetched document rather than from its URL: schemathesis leaves out the
    operation a schema was loaded from, and ``GET /api/v1/openapi.json`` is one of ours."""
    return schemathesis.openapi.from_dict(doc, config=config)


def auth_headers(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token is not None else {}


@dataclass
class Finding:
    """One kind of failure (operation, role, check, status), with the first request that
    showed it and how many generated requests did."""

    operation: str
    role: str
    check: str
    status: int
    message: str
    request: str
    response: str
    count: int = 1

    def report(self) -> str:
        return (
            f"### {self.operation} as {self.role}: {self.check} (HTTP {self.status}, "
            f"{self.count}x)\n\n{self.message}\n\nRequest:\n{self.request}\n\n"
            f"Response:\n{self.response}\n"
        )


def _text(value: object) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


def _clip(text: str, limit: int = 800) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


@dataclass(frozen=True)
class SecondLineSigner:
    """Signs each request to the second line's route as the second line does (with the
    secret the application was given), over the exact bytes sent: a ``requests`` auth,
    called with the prepared request. The bearer roles do not apply to that route; its
    answers are only reached signed."""

    secret: str
    now: Callable[[], float]  # the application's clock, in unix seconds

    def __call__(self, request: Any) -> Any:
        body = request.body or b""
        headers = signed_headers(
            self.secret, "escalation.answer", uuid.uuid4().hex, int(self.now()), body
        )
        del headers["Content-Type"]  # the generated request's own, valid or not
        request.headers.update(headers)
        return request


@dataclass
class Contract:
    """Every operation of ``schema``, each with its generated requests sent as one role
    (``token`` None: no Authorization header), every answer judged by ``CHECKS``.

    Failures are collected rather than raised, so each operation runs all its examples
    and the report lists every kind of failure found, not the first one alone. The
    phases (the schema's examples, the coverage cases, then fuzzing) and the per
    operation seeds are schemathesis' own, as its pytest plugin builds them (whose
    ``from_fixture`` does not run on pytest 9.2: it sets ``Node._nodeid``, gone there)."""

    schema: BaseSchema
    base_url: str
    role: str
    token: str | None
    second_line: SecondLineSigner | None = None
    findings: dict[tuple[str, str, int], Finding] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)
    # Operation -> status -> how many answers had it: what the run reached.
    statuses: dict[str, Counter[int]] = field(default_factory=dict)

    def run(self, max_examples: int) -> list[Finding]:
        tests = get_all_tests(
            schema=self.schema,
            test_func=self._probe,
            settings=hypothesis_settings(max_examples),
            given_kwargs={},
        )
        for result in tests:
            if isinstance(result, Err):
                error = result.err()
                self._add(error.label, "schema error", 0, str(error), "", "")
                continue
            operation, test = result.ok()
            self.sent.setdefault(operation.label, 0)
            test()
        return list(self.findings.values())

    def _probe(self, case: Case[Any]) -> None:
        headers = auth_headers(self.token)
        self.sent[case.operation.label] = self.sent.get(case.operation.label, 0) + 1
        signed = self.second_line is not None and case.operation.path.startswith(SECOND_LINE)
        auth: dict[str, Any] = {"auth": self.second_line} if signed else {}
        response = case.call(base_url=self.base_url, headers=headers, **auth)
        self.statuses.setdefault(case.operation.label, Counter())[response.status_code] += 1
        try:
            case.validate_response(
                response,
                checks=CHECKS,
                headers=headers,
                transport_kwargs={"base_url": self.base_url, "headers": headers, **auth},
            )
        except FailureGroup as group:
            for failure in group.exceptions:
                self._add(
                    case.operation.label,
                    failure.title,
                    response.status_code,
                    failure.message,
                    self._request(response),
                    self._response(response),
                )

    def _request(self, response: Response) -> str:
        req = response.request
        body = _text(req.body or "")
        lines = [_text(req.method) + " " + _text(req.url)]
        for k, v in req.headers.items():
            name = _text(k)
            if name.lower() == "authorization":
                lines.append(f"{name}: Bearer <{self.role} token>")
            elif name.lower() == "content-type":
                lines.append(name + ": " + _text(v))
        if body:
            lines.append(_clip(body, 600))
        return "\n".join(lines)

    @staticmethod
    def _response(response: Response) -> str:
        ctype = ", ".join(response.headers.get("content-type", []))
        body = response.content.decode(errors="replace")
        return f"{response.status_code} ({ctype})\n{_clip(body)}"

    def _add(
        self, operation: str, check: str, status: int, message: str, request: str, response: str
    ) -> None:
        key = (operation, check, status)
        if key in self.findings:
            self.findings[key].count += 1
            return
        self.findings[key] = Finding(
            operation, self.role, check, status, _clip(message.strip(), 1200), request, response
        )


def described(doc: dict[str, Any]) -> list[str]:
    """The operations a description lists, labelled as schemathesis labels them."""
    methods = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
    return sorted(
        f"{m.upper()} {p}" for p, ops in doc["paths"].items() for m in ops if m in methods
    )


def allowed(doc: dict[str, Any], role: str) -> list[str]:
    """The operations ``role`` may call, as each operation's description states it
    ("Roles: ..." names them; otherwise any principal, an auditor reading only)."""
    out = []
    for label in described(doc):
        method, _, path = label.partition(" ")
        text = doc["paths"][path][method.lower()].get("description", "")
        if text.startswith("Roles: "):
            roles = text.removeprefix("Roles: ").partition(".")[0].split(", ")
            if role not in roles:
                continue
        elif role == "auditor" and method != "GET":
            continue
        out.append(label)
    return out


def summary(findings: list[Finding]) -> str:
    lines = [f"{len(findings)} kinds of failure:"]
    lines += [
        f"- {f.operation} as {f.role} [{f.check}, HTTP {f.status}] x{f.count}" for f in findings
    ]
    return "\n".join(lines) + "\n\n" + "\n".join(f.report() for f in findings)


# -- seeding -------------------------------------------------------------------------------

# Callers on the follow-up list (ids 1..4 in a fresh database): open, open after two
# calls, one reached by calling again, and one after-hours.
FOLLOWUP_IDS = [1, 2, 3, 4]


def seed_followups(store: FollowupStore) -> None:
    t0 = 1763427000.0
    for i, (number, outcome, at) in enumerate(
        [
            ("0311110011", Outcome.ABANDONED, 0.0),
            ("0311110012", Outcome.VOICEMAIL, 10.0),
            ("0311110012", Outcome.CALLBACK, 20.0),
            ("0311110013", Outcome.ABANDONED, 30.0),
            ("0311110013", Outcome.ANSWERED, 40.0),
            ("0311110014", Outcome.AFTER_HOURS, 50.0),
            ("0311110015", Outcome.ABANDONED, 60.0),
        ]
    ):
        store.call_finished(
            CallRecord(
                server_id="lab",
                linkedid=f"{t0 + at}.{i}",
                arrived_at=t0 + at,
                caller_num=number,
                caller_name="折り返し 太郎",
                queue="support",
                answered_at=t0 + at + 5 if outcome is Outcome.ANSWERED else None,
                ended_at=t0 + at + 30,
                outcome=outcome,
            )
        )


SEED_INCIDENTS: list[dict[str, Any]] = [
    {
        "caller_number": "0311110001",
        "caller_name": "駐車 太郎",
        "queue": "support",
        "agent_id": "agent1",
        "category": "network",
        "priority": "high",
        "notes": "VPN が切れる",
    },
    {"caller_number": "0311110002", "queue": "support", "priority": "urgent"},
    {"caller_number": "0311110003", "queue": "small", "agent_id": "agent2"},
    {"caller_number": "0311110004", "priority": "low", "flags": ["vendor_investigation"]},
    {"caller_number": "0311110005", "queue": "support", "agent_id": "agent1"},
    {"caller_number": "0311110006"},
]
# What happens to each seeded incident after it is opened, so every state has rows.
ESCALATED = 2  # the one waiting for the second line's answer
SEED_ACTIONS: list[list[tuple[str, dict[str, Any]]]] = [
    [],
    [("start", {})],
    [("start", {}), ("escalate", {"to": "second-line", "note": "ベンダー調査"})],
    [("start", {}), ("resolve", {"resolution": "first_line"})],
    [("start", {}), ("resolve", {}), ("close", {})],
    [("start", {}), ("resolve", {}), ("reopen", {"note": "再発"})],
]


async def seed_incidents(base_url: str, token: str) -> list[int]:
    """Open the seeded incidents through the API (as a supervisor) and move each to its
    state; the ids, for the generated requests to use."""
    ids: list[int] = []
    async with aiohttp.ClientSession(
        base_url=base_url, headers=auth_headers(token), raise_for_status=True
    ) as http:
        for body, actions in zip(SEED_INCIDENTS, SEED_ACTIONS, strict=True):
            async with http.post(f"{API}/incidents", json=body) as r:
                incident_id = int((await r.json())["incident"]["id"])
            for action, action_body in actions:
                async with http.post(f"{API}/incidents/{incident_id}/{action}", json=action_body):
                    pass
            ids.append(incident_id)
        async with http.post(
            f"{API}/incidents/{ids[4]}/surveys", json={"answers": [5, 4], "respondent": "ivr"}
        ):
            pass
    return ids
