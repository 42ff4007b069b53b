"""`callcenter prompts import NAME FILE`: a recording (wav, mp3, flac, ogg: what sox reads)
converted to what Asterisk 16 plays without transcoding on a G.711 call, 8 kHz mono
16-bit signed wav, and installed as DIR/NAME.wav.

Every failure is a ``PromptError`` whose message names the file (or the name) at fault.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from callcenter.settings_base import NAME_RE

SOX = "sox"
RATE = 8000
# Asterisk plays a prompt to its end: a very long "announcement" is a mistake (a whole
# album, a recording left running), and holds the caller.
MAX_SECONDS = 600.0


class PromptError(ValueError):
    """A recording that cannot be imported; the message names the file or the name."""


@dataclass(frozen=True)
class Imported:
    name: str
    path: Path
    seconds: float
    source: Path


def _sox() -> str:
    found = shutil.which(SOX)
    if found is None:
        raise PromptError("sox not found: run scripts/install-system-deps.sh first")
    return found


def _seconds(sox: str, wav: Path, shown: Path) -> float:
    # `sox --info -D` prints the length in seconds (soxi is the same program).
    res = subprocess.run(
        [sox, "--info", "-D", str(wav)], capture_output=True, text=True, timeout=60, check=False
    )
    try:
        return float(res.stdout.strip())
    except ValueError:
        raise PromptError(f"{shown}: sox cannot measure the converted sound") from None


def _reason(stderr: str) -> str:
    """sox's own last complaint, without its "sox FAIL formats:" prefix."""
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "unknown error"
    return re.sub(r"^\S*sox\S*\s+(FAIL|WARN)\s+\w+:\s*", "", last)


def import_prompt(name: str, source: Path, sounds: Path) -> Imported:
    """Convert ``source`` and install it as ``sounds/NAME.wav`` (replacing an older one
    only once the new one is complete)."""
    if not NAME_RE.match(name):
        raise PromptError(f"prompt name {name!r}: letters, digits, '-' or '_', a letter first")
    if not source.is_file():
        raise PromptError(f"{source}: no such file")
    if not os.access(source, os.R_OK):
        raise PromptError(f"{source}: not readable")
    sox = _sox()
    sounds.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".wav", dir=sounds)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # -G: guard against clipping from the resampling; "remix -" mixes every channel
        # into one (a stereo recording keeps both sides); rate -h: high-quality resampling.
        cmd = [sox, "-G", "--no-show-progress", str(source),
               "-r", str(RATE), "-b", "16", "-e", "signed-integer", "-t", "wav", str(tmp),
               "remix", "-", "rate", "-h", str(RATE)]  # fmt: skip
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
        if res.returncode != 0:
            raise PromptError(f"{source}: sox cannot read it as sound: {_reason(res.stderr)}")
        seconds = _seconds(sox, tmp, source)
        if seconds <= 0:
            raise PromptError(f"{source}: holds no sound (0 s)")
        if seconds > MAX_SECONDS:
            raise PromptError(f"{source}: {seconds:.0f} s long; a prompt is at most 600 s")
        tmp.chmod(0o644)  # Asterisk may run as its own user
        target = sounds / f"{name}.wav"
        tmp.replace(target)
    finally:
        tmp.unlink(missing_ok=True)
    return Imported(name, target, seconds, source)
