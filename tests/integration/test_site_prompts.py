"""The site's own announcement is what the caller hears.

A 2 s, 1 kHz tone made with sox at 44.1 kHz stereo (as a recording from a studio would
come) is imported with `callcenter prompts import`, named as the after-hours message
("site:closed"), and played on a real call: a baresip caller on the trunk address calls
the lab while it is closed and records the RTP it receives. The recording must be the
tone: about 2 s of sound, its energy at 1 kHz, not silence nor the stock English prompt.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from callcenter.config import Config
from callcenter.dialplan.settings import QueueConfig
from callcenter.lab import Lab
from callcenter.lab.settings import LabConfig
from callcenter.prompts.settings import PromptsConfig
from callcenter.schedule.settings import ServiceConfig
from callcenter.store.settings import DatabaseConfig
from tests.integration.conftest import set_mode
from tests.support.baresip import caller_phone, heard, samples, tone_strength

WORKTREE = Path(__file__).resolve().parents[2]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callcenter", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompts")


@pytest.fixture(scope="module")
def imported(base: Path) -> Path:
    """The tone, imported through the command line into base/sounds."""
    tone = base / "studio-tone.wav"
    subprocess.run(
        ["sox", "-n", "-r", "44100", "-c", "2", "-b", "16", str(tone),
         "synth", "2", "sine", "1000", "gain", "-6"],
        check=True, timeout=60,
    )  # fmt: skip
    (base / "cc.toml").write_text('[prompts]\ndir = "sounds"\n', encoding="utf-8")
    res = cli("prompts", "import", "closed", str(tone), "--config", "cc.toml", cwd=base)
    assert res.returncode == 0, res.stderr
    assert "(2.00 s, 8 kHz mono)" in res.stdout
    return base / "sounds" / "closed.wav"


def test_imported_prompt_is_8khz_mono_16bit(imported: Path) -> None:
    values, rate = samples(imported)
    assert rate == 8000
    assert len(values) == 16000
    assert tone_strength(values, rate, 1000) > 0.95


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"not a sound at all\n", "bad.mp3: sox cannot read it as sound"),
        (b"RIFF\x10\x00\x00\x00WAVEjunk", "bad.mp3: sox cannot read it as sound"),
    ],
)
def test_bad_recordings_are_refused_naming_the_file(
    base: Path, tmp_path: Path, content: bytes, expected: str
) -> None:
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(content)
    res = cli("prompts", "import", "busy", str(bad), "--config", str(base / "cc.toml"), cwd=base)
    assert res.returncode == 2
    assert expected in res.stderr
    assert not (base / "sounds" / "busy.wav").exists()
    assert not list((base / "sounds").glob(".busy-*"))  # no half-written file left behind


def test_missing_file_and_bad_name(base: Path) -> None:
    res = cli("prompts", "import", "busy", "nowhere.wav", "--config", "cc.toml", cwd=base)
    assert (res.returncode, res.stderr.strip()) == (
        2,
        "callcenter prompts import: nowhere.wav: no such file",
    )
    res = cli("prompts", "import", "../etc", "x.wav", "--config", "cc.toml", cwd=base)
    assert res.returncode == 2
    assert "prompt name '../etc'" in res.stderr


@pytest.fixture(scope="module")
def closed_lab(base: Path, imported: Path) -> Iterator[Lab]:
    cfg = Config(
        lab=LabConfig(workdir=str(base / "lab"), rtp_start=23500, rtp_end=23999),
        database=DatabaseConfig(url=f"sqlite:///{base / 'cc.db'}"),
        queues=(QueueConfig(name="support", number="1000"),),
        ivr=(),
        groups=(),
        agents=(),
        transfer_targets=(),
        service=ServiceConfig(after_hours_prompt="site:closed", manage_mode=False),
        prompts=PromptsConfig(dir="sounds"),
        base_dir=base,
    )
    lab = Lab(cfg)
    lab.up()
    set_mode(lab, "closed")
    yield lab
    lab.down()


async def test_the_caller_hears_the_imported_after_hours_prompt(
    closed_lab: Lab, imported: Path, tmp_path: Path
) -> None:
    st = closed_lab.running()
    assert st is not None
    routes = (Path(st.workdir) / "etc" / "callcenter-routes.conf").read_text()
    assert f"Set(CC_AFTER_HOURS_PROMPT={imported.with_suffix('')})" in routes

    async with caller_phone(st, "0355502001", tmp_path / "caller") as phone:
        await phone.dial("1000")
        await phone.wait_event("CALL_ESTABLISHED", 10)
        # The after-hours context plays the prompt, then hangs up.
        await phone.wait_event("CALL_CLOSED", 15)
    values, rate = samples(heard(phone))
    assert rate == 8000
    # What arrived while the prompt played: find the stretch with sound in it.
    loud = [i for i, x in enumerate(values) if abs(x) > 2000]
    assert loud, "the caller heard silence"
    seconds = (loud[-1] - loud[0]) / rate
    # The prompt's length (the first packets may go before the media path is up).
    assert 1.5 < seconds < 2.3, seconds
    tone = values[loud[0] : loud[-1]]
    assert tone_strength(tone, rate, 1000) > 0.8  # the 1 kHz tone through G.711
    assert tone_strength(tone, rate, 440) < 0.05
    # sox agrees: the heard file is about as loud as the prompt (-6 dB, RMS ~0.35).
    stat = await asyncio.to_thread(
        subprocess.run,
        ["sox", str(heard(phone)), "-n", "trim", f"{loud[0] / rate}", f"{seconds}", "stat"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    rms = float(next(line for line in stat.stderr.splitlines() if "RMS     amplitude" in line)
                .split(":")[1])  # fmt: skip
    assert 0.2 < rms < 0.5, stat.stderr
