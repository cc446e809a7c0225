"""Reporters read a :class:`~autograder.results.Report` and write it out; they compute nothing."""

from __future__ import annotations

import enum
import json
from typing import TextIO

from rich.console import Console
from rich.markup import escape

from autograder.results import Outcome, Report, TestResult

__all__ = ["Format", "render", "render_json", "render_text", "live_line"]

_STYLE = {Outcome.PASSED: "green", Outcome.FAILED: "red", Outcome.ERROR: "red",
          Outcome.NOT_IMPLEMENTED: "yellow", Outcome.TIMEOUT: "red", Outcome.NOT_GRADED: "dim"}


class Format(str, enum.Enum):
    text = "text"
    json = "json"


def render_json(report: Report, out: TextIO) -> None:
    out.write(json.dumps(report.to_json(), indent=2) + "\n")


def _points(score: float, max_score: float) -> str:
    return f"{score:g}/{max_score:g}"


def live_line(test: TestResult) -> str:
    """One line per test, in rich markup: mark, exercise, name, points."""
    style = _STYLE[test.outcome]
    return (f"  [{style}]{test.outcome.mark}[/] {escape(test.name):<58} "
            f"[{style}]{_points(test.score, test.max_score):>7}[/]  [dim]{test.outcome.value}[/]")


def render_text(report: Report, out: TextIO, color: bool | None = None) -> None:
    console = Console(file=out, highlight=False, soft_wrap=True,
                      force_terminal=color, no_color=color is False)
    for total in report.by_exercise():
        tests = [t for t in report.tests if t.exercise == total.exercise]
        console.print(f"[bold]{total.exercise}[/]")
        for test in tests:
            console.print(live_line(test))
            if test.feedback and test.outcome is not Outcome.PASSED:
                for line in test.feedback.splitlines():
                    console.print(f"      {escape(line)}")
        console.print(f"  [bold]{total.exercise} total: {_points(total.score, total.max_score)}[/]\n")
    ignored = report.meta.get("ignored_files")
    if ignored:
        console.print(f"Ignored (never run, never read by the grader): {escape(ignored)}")
    for note in report.not_run:
        console.print(f"[dim]{escape(note)}[/]")
    for error in report.grader_errors:
        console.print(f"[bold red]grader error:[/] {escape(error)}")
    console.print(f"[bold]Total: {_points(report.score, report.max_score)}[/]  "
                  f"[dim]({report.duration:.1f} s)[/]")


def render(report: Report, fmt: Format, out: TextIO) -> None:
    if fmt is Format.json:
        render_json(report, out)
    else:
        render_text(report, out)
