"""Start, stop and inspect the lab Asterisk.

The lab owns one work folder: the rendered configuration, Asterisk's run, spool,
log and database folders, and ``lab.json`` with the chosen ports and the generated
AMI secret (mode 0600), which ``callcenter run`` reads when ``ami.use_lab`` is set.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from callcenter.lab.render import LabPorts, render_lab

if TYPE_CHECKING:
    from callcenter.config import Config

ASTERISK = "/usr/sbin/asterisk"
STATE_FILE = "lab.json"


class LabError(RuntimeError):
    """The lab could not be started, stopped or found."""


@dataclass(frozen=True)
class LabState:
    pid: int
    sip_port: int
    ami_port: int
    ami_username: str
    ami_secret: str = field(repr=False)
    config_file: str
    workdir: str

    @property
    def sip_uri_host(self) -> str:
        return f"127.0.0.1:{self.sip_port}"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _free_port_both() -> int:
    """A port free for both TCP and UDP (PJSIP may later add a TCP transport)."""
    for _ in range(50):
        port = free_port(socket.SOCK_DGRAM)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise LabError("no free port found on 127.0.0.1")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (our own child, not yet reaped) is not alive.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        if stat.rsplit(")", 1)[1].split()[0] == "Z":
            return False
    return True


class Lab:
    def __init__(self, cfg: Config, workdir: Path | None = None):
        self.cfg = cfg
        self.work = (workdir or cfg.path(cfg.lab.workdir)).resolve()
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def state_path(self) -> Path:
        return self.work / STATE_FILE

    def state(self) -> LabState | None:
        try:
            data = json.loads(self.state_path.read_text())
            return LabState(**data)
        except (OSError, ValueError, TypeError):
            return None

    def running(self) -> LabState | None:
        st = self.state()
        if st is not None and _alive(st.pid):
            return st
        return None

    def up(self, timeout: float = 30.0) -> LabState:
        if not Path(ASTERISK).exists():
            raise LabError(f"{ASTERISK} not found: run scripts/install-system-deps.sh first")
        current = self.running()
        if current is not None:
            return current
        old = self.state()
        ports = LabPorts(
            sip=self.cfg.lab.sip_port or (old.sip_port if old else 0) or _free_port_both(),
            ami=self.cfg.lab.ami_port or (old.ami_port if old else 0) or free_port(),
        )
        secret = old.ami_secret if old else secrets.token_urlsafe(18)
        conf = render_lab(self.cfg, self.work, ports, secret)
        return self._start(conf, ports, secret, timeout)

    def _start(self, conf: Path, ports: LabPorts, secret: str, timeout: float) -> LabState:
        log = (self.work / "log" / "console.log").open("ab")
        # -f: stay in the foreground so the pid is Asterisk's own; a new session so the
        # lab outlives the `callcenter lab up` command that started it.
        self._proc = subprocess.Popen(
            [ASTERISK, "-C", str(conf), "-f", "-n", "-g"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            cwd=self.work,
        )
        log.close()
        st = LabState(
            pid=self._proc.pid,
            sip_port=ports.sip,
            ami_port=ports.ami,
            ami_username=self.cfg.ami.username,
            ami_secret=secret,
            config_file=str(conf),
            workdir=str(self.work),
        )
        self.state_path.write_text(json.dumps(asdict(st)))
        self.state_path.chmod(0o600)
        self._wait_ready(st, timeout)
        return st

    def _wait_ready(self, st: LabState, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not _alive(st.pid):
                raise LabError(f"Asterisk exited during start-up; see {self.work}/log/console.log")
            if self.cli("core waitfullybooted", timeout=5, check=False).startswith(
                "Asterisk has fully booted"
            ):
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", st.ami_port), 1),
                ):
                    return
            time.sleep(0.2)
        raise LabError(f"Asterisk did not finish booting in {timeout:.0f}s")

    def restart(self, timeout: float = 30.0) -> LabState:
        """Start again on the same ports and secret (used to prove reconnects)."""
        st = self.state()
        if st is None:
            raise LabError("no lab state to restart from")
        self.down()
        return self._start(
            Path(st.config_file), LabPorts(st.sip_port, st.ami_port), st.ami_secret, timeout
        )

    def kill(self) -> None:
        """Kill Asterisk abruptly (SIGKILL), as a crash would."""
        st = self.running()
        if st is not None:
            os.kill(st.pid, signal.SIGKILL)
            self._reap(st.pid, 10)

    def down(self, timeout: float = 15.0) -> bool:
        st = self.running()
        if st is None:
            return False
        self.cli("core stop now", timeout=5, check=False)
        if not self._reap(st.pid, timeout):
            os.kill(st.pid, signal.SIGKILL)
            self._reap(st.pid, 5)
        return True

    def _reap(self, pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc is not None and self._proc.pid == pid:
                if self._proc.poll() is not None:
                    return True
            elif not _alive(pid):
                return True
            time.sleep(0.05)
        return False

    def cli(self, command: str, *, timeout: float = 10.0, check: bool = True) -> str:
        """Run an Asterisk CLI command through the lab's control socket."""
        st = self.state()
        if st is None:
            raise LabError("the lab is not set up")
        try:
            res = subprocess.run(
                [ASTERISK, "-C", st.config_file, "-rx", command],
                capture_output=True,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired:
            if check:
                raise LabError(f"asterisk -rx {command!r} timed out") from None
            return ""
        if check and res.returncode != 0:
            raise LabError(
                f"asterisk -rx {command!r} failed: {res.stderr.decode(errors='replace')}"
            )
        return res.stdout.decode("utf-8", errors="replace")

    def destroy(self) -> None:
        self.down()
        shutil.rmtree(self.work, ignore_errors=True)
