"""The shell scripts a site runs at least parse (the wheelhouse one needs the package
index, so CI, which must not depend on the network, does not run it whole)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

SCRIPTS = sorted((Path(__file__).resolve().parents[2] / "scripts").glob("*.sh"))


def test_the_wheelhouse_script_is_there() -> None:
    assert "build-wheelhouse.sh" in {s.name for s in SCRIPTS}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_valid_bash(script: Path) -> None:
    res = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True, check=False)
    assert res.returncode == 0, res.stderr
