"""Softphones for the tests: baresip processes that register to the lab with a password
(agents) or call in from the trunk address (callers), each with its own config folder.

The phone itself is the product's (``callcenter.lab.softphone``, which the demo uses too);
this module gives the tests what they need around it: phones started on a lab and always
stopped, and what a phone heard read back from its recordings.
"""

from __future__ import annotations

import contextlib
import math
import struct
import wave
from collections.abc import AsyncIterator, Callable
from pathlib import Path

from callcenter.lab import LabState
from callcenter.lab.softphone import Account, Softphone, recordings

__all__ = ["agent_phone", "caller_phone", "heard", "tone_strength"]


@contextlib.asynccontextmanager
async def agent_phone(
    lab: LabState,
    user: str,
    password: str,
    workdir: Path,
    *,
    answer_after: float | None = 1.0,
    wait_registered: bool = True,
) -> AsyncIterator[Softphone]:
    """An agent's softphone registering as ``user`` with ``password``; it answers each
    call ``answer_after`` seconds after it rings (None: never)."""
    delay: Callable[[], float] | None = None if answer_after is None else lambda: answer_after
    phone = Softphone(Account(user, password, "127.0.0.1", lab.sip_port), workdir,
                      answer_delay=delay)  # fmt: skip
    try:
        await phone.start()
        if wait_registered:
            await phone.wait_registered(10)
        yield phone
    finally:
        await phone.stop()


@contextlib.asynccontextmanager
async def caller_phone(
    lab: LabState, number: str, workdir: Path, *, trunk_address: str = "127.0.0.2"
) -> AsyncIterator[Softphone]:
    """A caller's phone on the trunk address that records what it hears (``heard``)."""
    phone = Softphone(
        Account(number, "", "127.0.0.1", lab.sip_port, listen=trunk_address),
        workdir,
        answer_delay=None,
        record_dir=workdir / "heard",
    )
    try:
        await phone.start()
        yield phone
    finally:
        await phone.stop()


def heard(phone: Softphone) -> Path:
    """The wav of what the phone heard on its last call (8 kHz mono, 16-bit)."""
    assert phone.record_dir is not None
    files = recordings(phone.record_dir)
    assert files, f"{phone.user} recorded nothing in {phone.record_dir}"
    return files[-1]


def samples(path: Path) -> tuple[list[int], int]:
    with wave.open(str(path), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2), path
        frames = w.readframes(w.getnframes())
        rate = w.getframerate()
    return list(struct.unpack(f"<{len(frames) // 2}h", frames)), rate


def tone_strength(values: list[int], rate: int, freq: float) -> float:
    """The share of the signal's energy at ``freq`` (Goertzel; 0: none, 1: a pure tone).

    A pure tone gives close to 1; silence, noise or another prompt give near 0. Taken over
    whole blocks of 20 ms, which a 1 kHz tone at 8 kHz fills with whole periods."""
    block = rate // 50
    total = at_freq = 0.0
    coeff = 2 * math.cos(2 * math.pi * freq / rate)
    for start in range(0, len(values) - block + 1, block):
        s1 = s2 = 0.0
        chunk = values[start : start + block]
        for x in chunk:
            s1, s2 = x + coeff * s1 - s2, s1
        power = s1 * s1 + s2 * s2 - coeff * s1 * s2  # |X(freq)|^2
        at_freq += 2 * power / block
        total += sum(x * x for x in chunk)
    return at_freq / total if total else 0.0
