"""``callcenter run`` with JSON logs: every line it prints is one JSON object (its own
events, alembic's migration lines, aiohttp's), each request has an ``http.access`` line,
and a token sent in a query string or an Authorization header never reaches the log."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from callcenter.lab import LabState

CLI = [sys.executable, "-m", "callcenter"]


def _config(tmp_path: Path, lab_state: LabState) -> Path:
    conf = tmp_path / "run.toml"
    conf.write_text(
        f'[lab]\nworkdir = "{lab_state.workdir}"\n'
        # A new database: the daemon's start migrates it (alembic logs as it goes).
        f'[database]\nurl = "sqlite:///{tmp_path / "run.db"}"\nspool_dir = "{tmp_path / "sp"}"\n'
        '[log]\nformat = "json"\nlevel = "info"\n'
        # The shared lab's mode is pinned by the tests; this daemon must not change it.
        "[service]\nmanage_mode = false\n"
        "[http]\nport = 0\n"
        # The shared lab's CEL file holds every earlier test's calls: not for this database.
        "[pbx_record]\nenabled = false\n"
    )
    return conf


def _lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in _lines(path) if line.startswith("{")]


def _get(url: str, headers: dict[str, str] | None = None) -> int:
    req = urllib.request.Request(url, headers=headers or {})  # noqa: S310 (loopback, http)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            resp.read()
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _wait(cond: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_every_line_is_json_with_an_access_log_and_no_token(
    tmp_path: Path, lab_state: LabState
) -> None:
    conf = _config(tmp_path, lab_state)
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as o, err.open("w") as e:
        proc = subprocess.Popen([*CLI, "run", "--config", str(conf)], stdout=o, stderr=e)
    try:

        def listening() -> str | None:
            for ev in _events(err):
                if ev.get("event") == "http.listening":
                    return str(ev["address"])
            return None

        address = _wait(listening, 60, "http.listening")
        base = f"http://{address}"
        created = subprocess.run(
            [*CLI, "token", "create", "--name", "logs", "--role", "supervisor", "--config", conf],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        token = created.stdout.splitlines()[-1].strip()
        assert len(token) >= 20
        assert _get(f"{base}/healthz?probe=lb") == 200
        bearer = {"Authorization": f"Bearer {token}"}
        assert _get(f"{base}/api/v1/queues", headers=bearer) == 200
        assert _get(f"{base}/api/v1/queues?token={token}") == 401
        assert _get(f"{base}/api/v1/queues", headers={"Authorization": "Bearer not-a-token"}) == 401
        assert _get(f"{base}/no-such-page?token={token}") == 404
        _wait(
            lambda: sum(ev.get("event") == "http.access" for ev in _events(err)) >= 5,
            10,
            "the access lines",
        )
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, err.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    lines = _lines(out) + _lines(err)
    for line in lines:
        assert isinstance(json.loads(line), dict), line  # every line, not only ours
    events = [json.loads(line) for line in lines]
    # The stdlib loggers are there, as JSON: the migrations' lines from alembic.
    assert any(str(ev.get("logger", "")).startswith("alembic") for ev in events)
    access = [ev for ev in events if ev.get("event") == "http.access"]
    assert {ev["logger"] for ev in access} == {"aiohttp.access"}
    by_path = {(ev["path"], ev["status"]) for ev in access}
    assert {
        ("/healthz", 200),
        ("/api/v1/queues", 200),
        ("/api/v1/queues", 401),
        ("/no-such-page", 404),
    } <= by_path
    ok = next(ev for ev in access if (ev["path"], ev["status"]) == ("/api/v1/queues", 200))
    assert ok["method"] == "GET"
    assert ok["bytes"] > 0
    assert ok["remote"] == "127.0.0.1"
    assert 0 <= ok["duration_ms"] < 10_000
    text = out.read_text() + err.read_text()
    assert token not in text
    assert "not-a-token" not in text
    assert "probe=lb" not in text  # no query string at all
    assert "Authorization" not in text
