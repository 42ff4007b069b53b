"""The long commands' progress: a bar on a terminal, nothing in a pipe or a file."""

from __future__ import annotations

import io

from callcenter.cli_history import Bar


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_bar_on_a_terminal() -> None:
    out = Tty()
    bar = Bar("rebuild: events", out)
    bar(5000, 20000)
    bar(20000, 20000)
    bar.close()
    text = out.getvalue()
    assert "\rrebuild: events [#######.......................] 5000/20000" in text
    assert "[" + "#" * 30 + "] 20000/20000" in text
    assert text.endswith("\n")


def test_nothing_in_a_pipe() -> None:
    out = io.StringIO()
    bar = Bar("rebuild: events", out)
    bar(1, 2)
    bar.close()
    assert out.getvalue() == ""
