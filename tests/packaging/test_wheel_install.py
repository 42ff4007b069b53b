"""The wheel as a site installs it: built from the project's files alone, installed into a
fresh venv with ``--no-deps``, and run from a folder far from the source tree, so any file
read from the tree instead of the package fails here (as it did: issue 14).

The fresh venv gets the runtime dependencies, without a network, from the site-packages
of the interpreter running the tests (a ``.pth`` file lists them). Those paths come after
the venv's own site-packages, so ``callcenter`` is the installed wheel's; a test checks it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration  # `lab up` and `run` start a real Asterisk

REPO = Path(__file__).resolve().parents[2]
# What a build may read: an sdist holds no more. Building from a copy also keeps build/
# and *.egg-info out of the checkout.
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "callcenter")
PIP = [sys.executable, "-m", "pip"]
# The build uses the setuptools of the interpreter running the tests (>= 77, from
# scripts/install-python-env.sh), never the network.
BUILD_OPTIONS = ["--no-deps", "--no-build-isolation", "--no-index"]


@dataclass(frozen=True)
class Installed:
    wheel: Path
    build_log: str
    venv: Path
    site: Path  # the working folder of every command: outside the source tree

    @property
    def cli(self) -> str:
        return str(self.venv / "bin" / "callcenter")

    def env(self, **extra: str) -> dict[str, str]:
        # No PYTHONPATH (it would import the checkout) and no CALLCENTER_* of the caller.
        path = f"{self.venv / 'bin'}:/usr/bin:/bin"
        return {"PATH": path, "HOME": str(self.site), "LANG": "C.UTF-8", **extra}

    def run(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.cli, *args],
            cwd=self.site,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


def _dependency_paths() -> list[str]:
    """The running interpreter's site-packages (the dependencies are installed there)."""
    return [p for p in sys.path if p.endswith("site-packages") and Path(p).is_dir()]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    have = version("setuptools")
    # A plain message rather than the backend's traceback about `project.license`.
    assert int(have.split(".")[0]) >= 77, f"setuptools {have}: run scripts/install-python-env.sh"
    base = tmp_path_factory.mktemp("wheel")
    src = base / "src"
    src.mkdir()
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(REPO / name, src / name)
    dist = base / "dist"
    # -v: without it pip hides the backend's output, warnings included.
    build = subprocess.run(
        [*PIP, "wheel", "-v", *BUILD_OPTIONS, "-w", str(dist), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    log = build.stdout + build.stderr
    assert build.returncode == 0, log
    (wheel,) = dist.glob("callcenter-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    purelib = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import sysconfig; print(sysconfig.get_path('purelib'))",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(purelib, "zz_dependencies.pth").write_text("\n".join(_dependency_paths()) + "\n")
    install = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    site = base / "site"
    site.mkdir()
    return Installed(wheel=wheel, build_log=log, venv=venv, site=site)


def test_the_build_prints_no_deprecation(installed: Installed) -> None:
    assert "Building wheel for callcenter" in installed.build_log  # the backend's own output
    noisy = [line for line in installed.build_log.splitlines() if re.search("deprecat", line, re.I)]
    assert noisy == []


def test_the_wheel_holds_every_file_of_the_package(installed: Installed) -> None:
    tree = {
        str(p.relative_to(REPO))
        for p in (REPO / "callcenter").rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert tree - names == set()
    assert "callcenter-0.1.0.dist-info/licenses/LICENSE" in names
    metadata = zipfile.ZipFile(installed.wheel).read("callcenter-0.1.0.dist-info/METADATA")
    assert b"License-Expression: Apache-2.0" in metadata


def test_the_commands_import_the_installed_wheel(installed: Installed) -> None:
    where = subprocess.run(
        [
            str(installed.venv / "bin" / "python"),
            "-c",
            "import callcenter; print(callcenter.__file__)",
        ],
        cwd=installed.site,
        env=installed.env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(installed.venv)), where


def test_dialplan_render(installed: Installed) -> None:
    res = installed.run("dialplan", "render", "--out", "asterisk")
    assert res.returncode == 0, res.stderr
    out = installed.site / "asterisk"
    contract = (REPO / "callcenter" / "dialplan" / "callcenter.conf").read_text(encoding="utf-8")
    assert (out / "callcenter.conf").read_text(encoding="utf-8") == contract
    assert "[support]" in (out / "callcenter-queues.conf").read_text(encoding="utf-8")


def test_check_config_on_the_shipped_example(installed: Installed) -> None:
    example = installed.run("example-config")
    assert example.returncode == 0, example.stderr
    shipped = (REPO / "callcenter" / "callcenter.example.toml").read_text(encoding="utf-8")
    assert example.stdout == shipped
    (installed.site / "callcenter.toml").write_text(example.stdout, encoding="utf-8")
    res = installed.run("check-config", "--config", "callcenter.toml")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith("ok: callcenter.toml")


@pytest.fixture
def lab_from_wheel(installed: Installed) -> Iterator[Path]:
    """The lab started by the installed command, on the example config's relative
    ``var/lab`` (inside the test's own folder: free ports, chosen at its first start)."""
    conf = installed.site / "lab.toml"
    conf.write_text(
        (REPO / "callcenter" / "callcenter.example.toml").read_text(encoding="utf-8"),
        encoding="utf-8",
    )
    up = installed.run("lab", "up", "--config", str(conf))
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield conf
    finally:
        down = installed.run("lab", "down", "--config", str(conf))
        assert down.returncode == 0, down.stderr


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:  # noqa: S310 (loopback, http)
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


def _listening(log: Path) -> str | None:
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{") and json.loads(line).get("event") == "http.listening":
            return str(json.loads(line)["address"])
    return None


def test_lab_and_run(installed: Installed, lab_from_wheel: Path) -> None:
    status = installed.run("lab", "status", "--config", str(lab_from_wheel))
    assert status.returncode == 0, status.stdout
    # The lab's tree was rendered from the package: the contract is its own copy.
    etc = installed.site / "var" / "lab" / "etc"
    assert "callcenter.conf" in (etc / "extensions.conf").read_text(encoding="utf-8")
    assert (etc / "callcenter.conf").is_file()
    log = installed.site / "run.log"
    env = installed.env(CALLCENTER_HTTP__PORT="0", CALLCENTER_LOG__FORMAT="json")
    with log.open("w") as err:
        proc = subprocess.Popen(
            [installed.cli, "run", "--config", str(lab_from_wheel)],
            cwd=installed.site,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    try:
        deadline = time.monotonic() + 60
        address = None
        while address is None and time.monotonic() < deadline and proc.poll() is None:
            address = _listening(log)
            time.sleep(0.2)
        assert address is not None, log.read_text()
        health = ready = 0
        while time.monotonic() < deadline and (health, ready) != (200, 200):
            health, ready = _get(f"http://{address}/healthz"), _get(f"http://{address}/readyz")
            time.sleep(0.2)
        # Alive, and ready: the AMI link to the lab up, the migrated database writable.
        assert (health, ready) == (200, 200), log.read_text()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0, log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert os.path.exists(installed.site / "var" / "callcenter.db")
