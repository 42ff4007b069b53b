"""The `callcenter` command as users run it: lab, run (with signals), check-config."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from callcenter.config import load_config
from callcenter.lab import Lab, LabState

CLI = [sys.executable, "-m", "callcenter"]


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=env, check=False
    )


def test_lab_up_status_down(tmp_path: Path) -> None:
    conf = tmp_path / "cc.toml"
    conf.write_text(f'[lab]\nworkdir = "{tmp_path / "lab"}"\n')
    up = run_cli("lab", "up", "--config", str(conf))
    try:
        assert up.returncode == 0, up.stderr
        assert "lab up: pid" in up.stdout
        state = json.loads((tmp_path / "lab" / "lab.json").read_text())
        assert (tmp_path / "lab" / "lab.json").stat().st_mode & 0o077 == 0  # holds the secret
        status = run_cli("lab", "status", "--config", str(conf))
        assert status.returncode == 0
        assert f"AMI 127.0.0.1:{state['ami_port']}" in status.stdout
        # Bound to loopback only, and chan_sip is not loaded.
        lab = Lab(load_config(conf))
        assert "chan_sip.so" not in lab.cli("module show like chan_sip")
        assert f"127.0.0.1:{state['sip_port']}" in lab.cli("pjsip show transports")
        assert run_cli("lab", "up", "--config", str(conf)).returncode == 0  # idempotent
    finally:
        down = run_cli("lab", "down", "--config", str(conf))
    assert down.returncode == 0
    assert "lab down" in down.stdout
    status = run_cli("lab", "status", "--config", str(conf))
    assert status.returncode == 3
    assert "not running" in status.stdout


def _write_run_config(tmp_path: Path, lab_state: LabState, **ami: object) -> Path:
    conf = tmp_path / "run.toml"
    ami_lines = "".join(f"{k} = {json.dumps(v)}\n" for k, v in ami.items())
    conf.write_text(
        f'[lab]\nworkdir = "{lab_state.workdir}"\n'
        f'[database]\nurl = "sqlite:///{tmp_path / "run.db"}"\nspool_dir = "{tmp_path / "spool"}"\n'
        f'[log]\nformat = "json"\n'
        # The shared lab's mode is pinned by the tests; this daemon must not change it.
        f"[service]\nmanage_mode = false\n"
        f"[http]\nport = 0\n"  # any free port: tests (and other checkouts) run side by side
        # The shared lab's CEL file holds every earlier test's calls: not for this database.
        f"[pbx_record]\nenabled = false\n"
        f"[ami]\n{ami_lines}"
    )
    return conf


def test_run_stops_cleanly_on_sigterm_with_buffer_flushed(
    tmp_path: Path, lab_state: LabState
) -> None:
    conf = _write_run_config(tmp_path, lab_state)
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(conf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        db = tmp_path / "run.db"
        while time.monotonic() < deadline:
            if db.exists():
                with sqlite3.connect(db) as conn:
                    try:
                        if conn.execute(
                            "select count(*) from ami_events where event = 'QueueStatusComplete'"
                        ).fetchone()[0]:
                            break
                    except sqlite3.OperationalError:
                        pass
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    lines = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    events = [line["event"] for line in lines]
    # The API listens first (it answers while AMI connects), then AMI comes up (the
    # start-up's own lines, e.g. activity.caught_up, may come before either).
    assert events.index("http.listening") < events.index("ami.connected")
    assert "ami.resynced" in events
    assert events[-2:] == ["daemon.signal", "daemon.stopped"]
    stopped = lines[-1]
    assert stopped["pending"] == 0
    assert stopped["written"] == stopped["events"] > 0
    with sqlite3.connect(tmp_path / "run.db") as conn:
        assert conn.execute("select count(*) from ami_events").fetchone()[0] == stopped["events"]
    assert lab_state.ami_secret not in err


def test_refused_login_is_a_clear_error_without_the_secret(
    tmp_path: Path, lab_state: LabState
) -> None:
    conf = _write_run_config(
        tmp_path, lab_state, use_lab=False, port=lab_state.ami_port, secret_env="CC_TEST_SECRET"
    )
    wrong = "definitely-wrong-secret-42"
    env = {"PATH": "/usr/bin:/bin", "CC_TEST_SECRET": wrong}
    res = run_cli("run", "--config", str(conf), env=env)
    assert res.returncode == 1
    assert "AMI login refused for user 'callcenter'" in res.stderr
    assert f"127.0.0.1:{lab_state.ami_port}" in res.stderr
    assert wrong not in res.stderr + res.stdout


def test_missing_secret_is_reported_by_key(tmp_path: Path, lab_state: LabState) -> None:
    conf = _write_run_config(tmp_path, lab_state, use_lab=False, secret_env="CC_UNSET_SECRET")
    res = run_cli("run", "--config", str(conf), env={"PATH": "/usr/bin:/bin"})
    assert res.returncode == 2
    assert "ami.secret: empty; set $CC_UNSET_SECRET" in res.stderr


def test_check_config(tmp_path: Path) -> None:
    good = run_cli("check-config", "--config", "callcenter/callcenter.example.toml")
    assert good.returncode == 0
    assert good.stdout.startswith("ok:")
    bad = tmp_path / "bad.toml"
    bad.write_text('[ami]\nport = "x"\n[[queues]]\nname = "q"\nstrategy = "best"\n')
    res = run_cli("check-config", "--config", str(bad))
    assert res.returncode == 2
    assert "ami.port: must be an integer" in res.stderr
    assert "queues[0].strategy: 'best' is not one of" in res.stderr
    assert "2 problem(s)" in res.stderr
