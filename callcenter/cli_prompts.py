"""`callcenter prompts import NAME FILE`: the site's own announcements (see
callcenter/prompts/importer.py)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from callcenter.config import Config


def add_parsers(sub: Any, add_config: Callable[[argparse.ArgumentParser], None]) -> None:
    p = sub.add_parser(
        "prompts",
        help="the site's own announcements",
        description="Convert a recording (wav, mp3, flac, ...: whatever sox reads) into "
        "what Asterisk plays, 8 kHz mono 16-bit wav, installed as [prompts] dir/NAME.wav; "
        'name it in the config as "site:NAME" (e.g. after_hours_prompt = "site:closed").',
    )
    psub = p.add_subparsers(dest="prompts_action", required=True)
    q = psub.add_parser("import", help="convert and install one recording")
    q.add_argument("name", metavar="NAME", help="the prompt's name (site:NAME in the config)")
    q.add_argument("file", metavar="FILE", type=Path, help="the recording")
    add_config(q)
    q = psub.add_parser("list", help="the imported prompts")
    add_config(q)


def cmd_prompts(cfg: Config, args: argparse.Namespace) -> int:
    from callcenter.prompts import PromptError, import_prompt

    sounds = cfg.sounds_dir()
    if args.prompts_action == "list":
        for path in sorted(sounds.glob("*.wav")):
            print(f"site:{path.stem}\t{path}")
        return 0
    try:
        done = import_prompt(args.name, args.file, sounds)
    except PromptError as exc:
        print(f"callcenter prompts import: {exc}", file=sys.stderr)
        return 2
    print(
        f"prompts import: {done.source} -> {done.path} ({done.seconds:.2f} s, 8 kHz mono); "
        f'use "site:{done.name}" in the config, then reload the dialplan'
    )
    return 0
