"""`callcenter token create` and `revoke` are in the audit trail: who ran them (the
operating system's user), what and on which token; never the token itself."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest

from callcenter.cli import main
from callcenter.store.audit import AuditFilter, AuditLog
from callcenter.store.db import make_engine


def test_token_create_and_revoke_are_audited(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "cc.db"
    config = tmp_path / "callcenter.toml"
    config.write_text(f'[database]\nurl = "sqlite:///{db}"\n', encoding="utf-8")
    assert (
        main(["token", "create", "--name", "監査", "--role", "auditor", "--config", str(config)])
        == 0
    )
    printed = capsys.readouterr().out
    token = printed.strip().splitlines()[-1]
    assert main(["token", "revoke", "1", "--config", str(config)]) == 0
    entries, total = AuditLog(make_engine(f"sqlite:///{db}")).query(AuditFilter())
    assert total == 2
    revoke, create = entries  # newest first
    assert (create.action, create.target, create.via, create.result) == (
        "token.create",
        "token=1",
        "cli",
        0,
    )
    assert create.actor == f"cli:{getpass.getuser()}"
    assert create.detail == {"name": "監査", "role": "auditor", "agent_id": None}
    assert (revoke.action, revoke.target) == ("token.revoke", "token=1")
    assert token not in repr(entries)
