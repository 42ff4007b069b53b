"""Drive real SIP calls with sipp: callers from the trunk address, agents as phones."""

from __future__ import annotations

import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

SCENARIOS = Path(__file__).resolve().parent.parent / "sipp"
INFO_KEY = """<pause milliseconds="{delay}"/>
  <send retrans="500">
    <![CDATA[
      INFO sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "[field1]" <sip:[field0]@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Contact: <sip:[field0]@[local_ip]:[local_port]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={key}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
  """


# The same press sent by the called side (an agent's phone) inside the dialog it answered.
AGENT_INFO_KEY = """<pause milliseconds="{delay}"/>
  <send retrans="500">
    <![CDATA[
      INFO [$peer_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$me];tag=[pid]SIPpTag01[call_number]
      To: [$peer]
      Call-ID: [call_id]
      CSeq: {cseq} INFO
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal={key}
      Duration=100
    ]]>
  </send>
  <recv response="200"/>
  """


AGENT_WAITS = """<recv request="BYE"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Content-Length: 0
    ]]>
  </send>
"""
AGENT_HANGS_UP = """<pause milliseconds="{delay}"/>
  <send retrans="500">
    <![CDATA[
      BYE [$peer_contact] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: [$me];tag=[pid]SIPpTag01[call_number]
      To: [$peer]
      Call-ID: [call_id]
      CSeq: 90 BYE
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Length: 0
    ]]>
  </send>
  <recv response="200"/>
"""


def _info_key(key: str, index: int, delay_ms: int) -> str:
    """One key press as a SIP INFO (application/dtmf-relay): each is its own request, so
    repeated or successive keys are never mistaken for one long press."""
    return INFO_KEY.format(delay=delay_ms, cseq=10 + index, key=key)


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Sipp:
    """sipp aimed at the lab's PJSIP port."""

    sip_port: int
    trunk_address: str = "127.0.0.2"

    def _start(
        self, scenario: str, work: Path, timeout_s: int, args: list[str]
    ) -> subprocess.Popen[bytes]:
        cmd = [
            "sipp", "-sf", str(SCENARIOS / scenario), *args,
            "-nostdin", "-timeout", f"{timeout_s}s", "-timeout_error", "-trace_err",
            "-error_file", str(work / "errors.log"), f"127.0.0.1:{self.sip_port}",
        ]  # fmt: skip
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=work,
        )

    def agent(
        self,
        port: int,
        *,
        answer_ms: int,
        calls: int = 1,
        timeout_s: int = 60,
        keys: str = "",
        keys_after_ms: int = 1000,
        key_delay_ms: int = 250,
        hangup_after_ms: int | None = None,
        address: str = "127.0.0.1",
    ) -> subprocess.Popen[bytes]:
        """A phone on address:port that rings ``answer_ms`` then answers, ``calls`` times.

        ``address`` 127.0.0.2 (the lab's trunk) makes it a caller's phone that the desk
        calls back through the trunk.

        With ``keys``, it presses them ``keys_after_ms`` after the answer, ``key_delay_ms``
        apart (a feature code must be complete within Asterisk's featuredigittimeout, 1 s),
        then waits for the PBX to hang up; with ``hangup_after_ms`` it hangs up itself
        that long after the answer (or after its last key).
        """
        work = Path(tempfile.mkdtemp(prefix="sipp-agent-"))
        args = ["-i", address, "-p", str(port), "-mp", str(free_udp_port()),
                "-d", str(answer_ms), "-m", str(calls)]  # fmt: skip
        scenario = "agent.xml"
        if keys or hangup_after_ms is not None:
            scenario = str(work / "agent_keys.xml")
            steps = "".join(
                AGENT_INFO_KEY.format(
                    delay=keys_after_ms if i == 0 else key_delay_ms, cseq=10 + i, key=k
                )
                for i, k in enumerate(keys)
            )
            end = (
                AGENT_WAITS
                if hangup_after_ms is None
                else AGENT_HANGS_UP.format(delay=hangup_after_ms)
            )
            template = (SCENARIOS / "agent_keys.xml").read_text(encoding="utf-8")
            text = template.replace("<!--KEYS-->", steps).replace("<!--END-->", end)
            Path(scenario).write_text(text, encoding="utf-8")
        return self._start(scenario, work, timeout_s, args)

    def caller(
        self,
        service: str,
        callers: list[tuple[str, str]],
        *,
        talk_ms: int,
        rate: float = 10,
        limit: int = 10,
        timeout_s: int = 60,
        keys: str = "",
        key_delay_ms: int = 1500,
        source: str | None = None,
    ) -> subprocess.Popen[bytes]:
        """Place one call per (number, display name) to ``service``; each talks ``talk_ms``.

        From the trunk's address by default; ``source="127.0.0.1"`` with an agent's id as
        the number places the call from that agent's phone (PJSIP finds the endpoint by
        the From user).

        With ``keys``, the caller presses them one by one after the answer, each
        ``key_delay_ms`` after the previous, then stays ``talk_ms``.

        sipp counts a call as successful only when it got its 200 OK (answered by the
        dialplan or an agent) and its BYE was answered.
        """
        work = Path(tempfile.mkdtemp(prefix="sipp-caller-"))
        inj = work / "callers.csv"
        inj.write_text(
            "SEQUENTIAL\n" + "".join(f"{n};{name}\n" for n, name in callers), encoding="utf-8"
        )
        scenario = "caller.xml"
        if keys:
            scenario = str(work / "caller_keys.xml")
            steps = "".join(_info_key(k, i, key_delay_ms) for i, k in enumerate(keys))
            template = (SCENARIOS / "caller_keys.xml").read_text(encoding="utf-8")
            Path(scenario).write_text(template.replace("<!--KEYS-->", steps), encoding="utf-8")
        args = ["-inf", str(inj), "-i", source or self.trunk_address, "-p", str(free_udp_port()),
                "-mp", str(free_udp_port()), "-s", service, "-d", str(talk_ms),
                "-m", str(len(callers)), "-r", str(rate), "-l", str(limit)]  # fmt: skip
        return self._start(scenario, work, timeout_s, args)


def finish(proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    """Wait for a sipp run and fail loudly with its error output if any call failed."""
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError(f"sipp {proc.args!r} did not finish in {timeout}s") from None
    assert proc.returncode == 0, (
        f"sipp exited {proc.returncode}: {err.decode(errors='replace')[-2000:]}"
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.kill()
    proc.communicate()
