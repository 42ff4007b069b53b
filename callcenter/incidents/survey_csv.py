"""Satisfaction surveys from a CSV of form answers (a web form's export).

One row per respondent. Recognised columns (any case; Japanese form exports too):
- the time: ``at``, ``timestamp``, ``タイムスタンプ``, ``回答日時`` (ISO 8601 or
  ``YYYY/MM/DD HH:MM[:SS]``; without a zone, the service time zone);
- who answered (optional): ``respondent``, ``email``, ``メールアドレス``, ``回答者``;
- the incident (optional): ``incident``, ``incident_id``, ``インシデント番号``;
- every other column is a question, answered 1-5 or with the scale's words
  (満足 5, ほぼ満足 4, 普通 3, やや不満 2, 不満 1); an empty cell is not answered.

The file is checked whole before anything is stored: a bad cell is reported with its
row and column, and nothing from the file is imported.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime, tzinfo

from callcenter.incidents.model import SurveyResponse

TIME_COLUMNS = {"at", "timestamp", "タイムスタンプ", "回答日時"}
RESPONDENT_COLUMNS = {"respondent", "email", "メールアドレス", "回答者"}
INCIDENT_COLUMNS = {"incident", "incident_id", "インシデント番号"}
WORDS = {
    "満足": 5,
    "ほぼ満足": 4,
    "普通": 3,
    "やや不満": 2,
    "不満": 1,
    "satisfied": 5,
    "mostly satisfied": 4,
    "neutral": 3,
    "somewhat dissatisfied": 2,
    "dissatisfied": 1,
}


class SurveyCSVError(ValueError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def _time(text: str, tz: tzinfo) -> datetime:
    text = text.strip()
    for parse in (
        datetime.fromisoformat,
        lambda t: datetime.strptime(t, "%Y/%m/%d %H:%M:%S"),
        lambda t: datetime.strptime(t, "%Y/%m/%d %H:%M"),
    ):
        try:
            at = parse(text)
        except ValueError:
            continue
        return at if at.tzinfo is not None else at.replace(tzinfo=tz)
    raise ValueError(f"{text!r} is not a time (YYYY-MM-DD HH:MM or YYYY/MM/DD HH:MM)")


def _answer(text: str) -> int | None:
    value = text.strip()
    if not value:
        return None
    if value in ("1", "2", "3", "4", "5"):
        return int(value)
    word = WORDS.get(value.lower()) or WORDS.get(value)
    if word is None:
        raise ValueError(f"{value!r} is not 1-5 or 満足/ほぼ満足/普通/やや不満/不満")
    return word


def parse_surveys(text: str, tz: tzinfo) -> list[SurveyResponse]:
    """Every row as a response; SurveyCSVError lists every bad cell (row, column)."""
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a BOM
    rows = list(reader)
    if not rows:
        raise SurveyCSVError(["the file is empty"])
    header = [h.strip() for h in rows[0]]
    lowered = [h.lower() for h in header]

    def find(names: set[str]) -> int | None:
        return next((i for i, h in enumerate(lowered) if h in names), None)

    t_col, r_col, i_col = find(TIME_COLUMNS), find(RESPONDENT_COLUMNS), find(INCIDENT_COLUMNS)
    problems: list[str] = []
    if t_col is None:
        problems.append("no time column (at, timestamp, タイムスタンプ or 回答日時)")
    questions = [i for i in range(len(header)) if i not in (t_col, r_col, i_col)]
    if not questions:
        problems.append("no question columns")
    if problems:
        raise SurveyCSVError(problems)
    assert t_col is not None
    out: list[SurveyResponse] = []
    for n, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        cells = row + [""] * (len(header) - len(row))
        where = f"row {n}"
        try:
            at = _time(cells[t_col], tz)
        except ValueError as exc:
            problems.append(f"{where}, column {header[t_col]!r}: {exc}")
            continue
        answers: list[int] = []
        for q in questions:
            try:
                a = _answer(cells[q])
            except ValueError as exc:
                problems.append(f"{where}, column {header[q]!r}: {exc}")
                continue
            if a is not None:
                answers.append(a)
        incident_id: int | None = None
        if i_col is not None and cells[i_col].strip():
            raw = cells[i_col].strip()
            if not raw.isdigit():
                problems.append(f"{where}, column {header[i_col]!r}: {raw!r} is not a number")
            else:
                incident_id = int(raw)
        respondent = cells[r_col].strip() if r_col is not None else ""
        if not answers:
            continue  # nothing answered: not a respondent
        out.append(SurveyResponse(respondent or f"form-row-{n}", incident_id, tuple(answers), at))
    if problems:
        raise SurveyCSVError(problems)
    return out


def known_incidents(responses: Iterable[SurveyResponse]) -> set[int]:
    return {r.incident_id for r in responses if r.incident_id is not None}
