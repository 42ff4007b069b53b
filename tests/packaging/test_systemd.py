"""contrib/systemd/callcenter.service as systemd itself reads it: `systemd-analyze verify`
prints nothing (a misspelt key or a bad value is only a warning there, with exit 0, so the
test fails on any output), and `systemd-analyze security` rates the sandbox."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "contrib" / "systemd" / "callcenter.service"
SYSTEMD_ANALYZE = "/usr/bin/systemd-analyze"
INSTALLED = "/opt/callcenter/bin/callcenter"


def _installed_copy(tmp_path: Path, text: str | None = None) -> Path:
    """The unit with ExecStart on a real `callcenter` (verify checks it is executable):
    the one beside the interpreter running the tests."""
    cli = Path(sys.executable).with_name("callcenter")
    assert cli.exists(), f"{cli}: the project is not installed in this venv"
    unit = tmp_path / "callcenter.service"
    unit.write_text((text or UNIT.read_text()).replace(INSTALLED, str(cli)))
    return unit


def _verify(unit: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SYSTEMD_ANALYZE, "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=unit.parent,
    )


def test_verify_prints_nothing(tmp_path: Path) -> None:
    res = _verify(_installed_copy(tmp_path))
    assert res.returncode == 0, res.stderr
    assert res.stdout + res.stderr == ""


@pytest.mark.parametrize(
    ("good", "typo"),
    [
        ("ProtectSystem=strict", "ProtectSytem=strict"),
        ("AF_INET AF_INET6 AF_UNIX", "AF_INET AF_INET6 AF_BOGUS"),
    ],
)
def test_verify_would_see_a_mistake(tmp_path: Path, good: str, typo: str) -> None:
    # What the test above relies on: a mistake is reported, even with exit status 0.
    text = UNIT.read_text()
    assert good in text
    res = _verify(_installed_copy(tmp_path, text.replace(good, typo)))
    assert res.stdout + res.stderr != ""


def _directives() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            out.setdefault(key, []).append(value)
    return out


def test_the_hardening_asked_for() -> None:
    d = _directives()
    assert d["User"] == ["callcenter"]
    assert d["ProtectSystem"] == ["strict"]
    assert d["NoNewPrivileges"] == ["yes"]
    assert d["Restart"] == ["on-failure"]
    assert d["EnvironmentFile"] == ["/etc/callcenter/callcenter.env"]
    assert d["ReadWritePaths"] == ["/var/lib/callcenter /var/log/callcenter"]
    assert d["RestrictAddressFamilies"] == ["AF_INET AF_INET6 AF_UNIX"]
    assert d["CapabilityBoundingSet"] == [""]
    assert "@system-service" in d["SystemCallFilter"]
    # Nothing hides Asterisk's log folder, where the CEL file is read.
    assert not any(
        "/var/log" in v for k in ("InaccessiblePaths", "TemporaryFileSystem") for v in d.get(k, [])
    )
    assert d["ExecStart"][0].startswith(f"{INSTALLED} run --config /etc/callcenter/")


def test_security_exposure_is_low(tmp_path: Path) -> None:
    res = subprocess.run(
        [
            SYSTEMD_ANALYZE,
            "security",
            "--offline=yes",
            "--no-pager",
            str(_installed_copy(tmp_path)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert res.returncode == 0, res.stderr
    found = re.search(r"Overall exposure level for callcenter\.service: ([\d.]+)", res.stdout)
    assert found, res.stdout
    # 0 is a fully locked-down unit, 10 an unprotected one; systemd calls below 2 "OK".
    assert float(found.group(1)) < 2.0
