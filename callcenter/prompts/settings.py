"""[prompts]: where the site's own recordings live, and how the dialplan names them."""

from __future__ import annotations

from pathlib import Path

from callcenter.settings_base import SITE_PREFIX, Settings


class PromptsConfig(Settings):
    # Where `callcenter prompts import` installs the site's recordings and where Asterisk
    # reads them (a prompt "site:NAME" plays DIR/NAME.wav). Relative: from the working
    # folder, as the lab's own. On an existing PBX, a folder its Asterisk can read.
    dir: str = "var/sounds"


def playable(prompt: str, sounds: Path | None) -> str:
    """A prompt as Playback/Background take it: each "site:NAME" part becomes the
    absolute path of the imported file, without its extension (Asterisk picks the format)."""
    parts = []
    for part in prompt.split("&"):
        if part.startswith(SITE_PREFIX):
            if sounds is None:
                raise ValueError(f"{part!r} needs the prompts folder ([prompts] dir)")
            part = str(sounds / part[len(SITE_PREFIX) :])
        parts.append(part)
    return "&".join(parts)
