"""The hand-written dialplan contract (``callcenter.conf``), shipped inside the package.

It is read through importlib.resources, never from the source tree, so ``dialplan
render`` and the lab work the same from a checkout and from an installed wheel."""

from __future__ import annotations

from importlib.resources import files

CONTRACT_NAME = "callcenter.conf"


def contract_text() -> str:
    """The contract the generated files jump into (``UserEvent(CallCenter,Stage: ...)``)."""
    return files(__package__).joinpath(CONTRACT_NAME).read_text(encoding="utf-8")
