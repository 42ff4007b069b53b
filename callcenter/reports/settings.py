"""[reports]: the monthly report made, kept and sent on the first operating day."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from callcenter.settings_base import Hint, Problem, Settings

ReportFormat = Literal["xlsx", "pdf", "html", "csv", "json"]
_ADDRESS = re.compile(r"^[^@\s<>,;]+@[^@\s<>,;]+$")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _address(value: str) -> str:
    if not _ADDRESS.fullmatch(value):
        raise ValueError(f"{value!r} is not an e-mail address")
    return value


def _time(value: str) -> str:
    if not _TIME.fullmatch(value):
        raise ValueError(f"{value!r} is not a time of day (HH:MM)")
    return value


Address = Annotated[str, AfterValidator(_address)]


class ReportsConfig(Settings):
    """The previous month's report, made at ``at`` on the month's first operating day
    (or when the daemon next runs, if it was down then), kept ``keep_months``, and sent
    to ``mail_to`` and/or as the ``report.monthly`` webhook."""

    archive: bool = True  # make and keep it (false: none of this)
    formats: tuple[ReportFormat, ...] = ("xlsx", "pdf", "html", "csv")
    lang: Literal["ja", "en"] = "ja"
    at: Annotated[str, AfterValidator(_time)] = "09:00"  # service time zone
    keep_months: Annotated[int, Field(ge=1, le=1200), Hint("between 1 and 1200")] = 84
    # E-mail: nothing is sent without an address.
    mail_to: tuple[Address, ...] = ()
    mail_from: Address = "callcenter@localhost"
    smtp_host: str = "127.0.0.1"
    smtp_port: Annotated[int, Field(ge=1, le=65535), Hint("a TCP port")] = 25
    smtp_starttls: bool = False
    smtp_username: str = ""
    smtp_password_env: str = "CALLCENTER_SMTP_PASSWORD"  # noqa: S105 (a variable's name)
    smtp_timeout: Annotated[float, Field(gt=0)] = 30.0
    # The report.monthly webhook ([webhooks] must list it in its events).
    webhook: bool = False

    def checks(self, environ: Mapping[str, str]) -> Iterable[Problem]:
        if self.archive and not self.formats:
            yield Problem(("formats",), "must name at least one format")
        if self.smtp_username and not environ.get(self.smtp_password_env):
            yield Problem(("smtp_username",), f"needs a password in ${self.smtp_password_env}")
