"""Reporters read a :class:`~autograder.results.Report` and write it out; they compute nothing."""

from __future__ import annotations

import enum
import json
import os
import sys
from pathlib import Path
from typing import Sequence, TextIO

from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.text import Text

from autograder.platforms import (SubmissionContext, render_classroom, render_classroom50, render_junit,
                                  render_markdown)
from autograder.results import Outcome, Report, TestResult

__all__ = ["Format", "OutputError", "render", "render_json", "render_text", "submission_notes", "live_line", "pair_outputs",
           "write_reports", "STDOUT"]

STDOUT = Path("-")

_STYLE = {Outcome.PASSED: "green", Outcome.FAILED: "red", Outcome.ERROR: "red",
          Outcome.NOT_IMPLEMENTED: "yellow", Outcome.TIMEOUT: "red", Outcome.NOT_GRADED: "dim"}


class Format(str, enum.Enum):
    text = "text"
    json = "json"
    junit = "junit"  # JUnit XML
    markdown = "markdown"  # for $GITHUB_STEP_SUMMARY
    classroom = "classroom"  # GitHub Classroom runner results, <exercise>=<base64> lines for $GITHUB_OUTPUT
    classroom50 = "classroom50"  # Classroom 50's result.json


class OutputError(ValueError):
    """The --format/--output pairs do not match up."""


def render_json(report: Report, out: TextIO) -> None:
    out.write(json.dumps(report.to_json(), indent=2) + "\n")


def _points(score: float, max_score: float) -> str:
    return f"{score:g}/{max_score:g}"


def live_line(test: TestResult, width: int = 58) -> str:
    """One line per test, in rich markup: mark, name (padded to ``width``), points."""
    style = _STYLE[test.outcome]
    points = _points(test.score, test.max_score) if test.graded else f"-/{test.max_score:g}"  # not a zero
    return (f"  [{style}]{test.outcome.mark}[/] {escape(test.name):<{width}} "
            f"[{style}]{points:>7}[/]  [dim]{test.outcome.value}[/]")


def submission_notes(report: Report) -> list[str]:
    """What the grader did with the submission's files, for the student: modules found one folder
    down or under a near name, notebook cells converted, files ignored."""
    labels = (("files", "Your files"), ("notebook", "Your notebook"),
              ("ignored_files", "Ignored (never run, never read by the grader)"))
    lines = []
    for key, label in labels:
        value = report.meta.get(key)
        if key == "notebook" and value and "; " in value:  # one note per line: they can be long
            lines += [f"{label}:", *(f"- {note}" for note in value.split("; "))]
        elif value:
            lines.append(f"{label}: {value}")
    return lines


def render_text(report: Report, out: TextIO, color: bool | None = None) -> None:
    console = Console(file=out, highlight=False, soft_wrap=True,
                      force_terminal=color, no_color=color is False)
    width = max([58, *(len(t.name) for t in report.tests)])  # long ids (accuracy[...]) keep the columns

    def say(text: str, indent: int = 6) -> None:
        for line in text.splitlines():
            if console.is_terminal:  # wrapped to the window, indented under the test
                console.print(Padding(Text(line), (0, 0, 0, indent)), soft_wrap=False)
            else:  # files and CI logs: one line each, as written
                console.print(" " * indent + escape(line))

    for total in report.by_exercise():
        tests = [t for t in report.tests if t.exercise == total.exercise]
        console.print(f"[bold]{total.exercise}[/]")
        common = report.common_failure(total.exercise)  # a missing module, an import error: said once
        if common:
            console.print(f"  every test of {total.exercise} failed the same way:")
            say(next(t.feedback for t in tests if t.graded), 4)
        for test in tests:
            console.print(live_line(test, width))
            if test.feedback and not (common and test.feedback.strip().splitlines()[0] == common):
                say(test.feedback)
        console.print(f"  [bold]{total.exercise} total: {_points(total.score, total.max_score)}[/]\n")
    soft = not console.is_terminal  # notes, too, wrap to the window on a terminal
    for note in submission_notes(report):
        console.print(escape(note), soft_wrap=soft)
    for note in report.not_run:
        console.print(f"[dim]{escape(note)}[/]", soft_wrap=soft)
    sandbox = report.meta.get("sandbox", "")
    if sandbox.startswith("unsandboxed"):
        console.print(f"[yellow]{escape(sandbox)}[/]")
    for error in report.grader_errors:
        console.print(f"[bold red]grader error:[/] {escape(error)}")
    console.print(f"[bold]Total: {_points(report.score, report.max_score)}[/]  "
                  f"[dim]({report.duration:.1f} s)[/]")


def render(report: Report, fmt: Format, out: TextIO, context: SubmissionContext | None = None) -> None:
    """Write ``report`` in ``fmt``; ``context`` names the submission for classroom50 (default: from
    the environment, see :meth:`SubmissionContext.from_env`)."""
    if fmt is Format.json:
        render_json(report, out)
    elif fmt is Format.junit:
        render_junit(report, out)
    elif fmt is Format.markdown:
        render_markdown(report, out)
    elif fmt is Format.classroom:
        render_classroom(report, out)
    elif fmt is Format.classroom50:
        render_classroom50(report, out, context or SubmissionContext.from_env(os.environ, "assignment"))
    else:
        render_text(report, out)


def pair_outputs(formats: Sequence[Format], outputs: Sequence[Path]) -> list[tuple[Format, Path]]:
    """Pair the i-th --format with the i-th --output; one format alone may go to stdout (``-``)."""
    formats = list(formats) or [Format.text]
    if not outputs:
        if len(formats) > 1:
            raise OutputError("several --format need one --output each, in the same order (- for stdout)")
        return [(formats[0], STDOUT)]
    if len(outputs) != len(formats):
        raise OutputError(f"{len(formats)} --format but {len(outputs)} --output: give one --output per "
                          f"--format, in the same order (- for stdout)")
    files = [str(p) for p in outputs if p != STDOUT]
    if len(files) != len(set(files)) or len(outputs) - len(files) > 1:
        raise OutputError("each --output must be a different file, and at most one may be - (stdout)")
    return list(zip(formats, outputs))


def write_reports(report: Report, pairs: Sequence[tuple[Format, Path]],
                  context: SubmissionContext | None = None) -> None:
    """Render ``report`` once per (format, path) pair; the path ``-`` is stdout."""
    for fmt, path in pairs:
        if path == STDOUT:
            render(report, fmt, sys.stdout, context)
            continue
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as out:
            render(report, fmt, out, context)
