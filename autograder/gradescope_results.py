"""Gradescope's ``results.json`` from a :class:`~autograder.results.Report` (a reporter: it reads
results and computes nothing the report does not hold).

Gradescope's autograder contract: top-level ``score``, ``execution_time`` (seconds), ``output``
(shown to the student), ``stdout_visibility`` and ``extra_data``; ``tests`` holds one entry per
test with ``name``, ``number``, ``score``, ``max_score``, ``status`` (passed or failed), ``output``,
``tags`` and ``visibility`` (hidden, after_due_date, after_published or visible).

* Hidden-suite tests get ``after_published`` by default: their results (never their source) reach
  the student once the instructor publishes grades.
* A test not graded here (no CIFAR-10, no GPU) is listed with ``max_score`` 0 and the reason, so it
  neither counts as zero nor as passed.
* Grader errors (a broken hidden test, a crashed test process) never pass silently: the student's
  ``output`` says the grade is provisional and that it is not their code, an entry with visibility
  ``hidden`` (instructors only) holds the details, and ``extra_data.grader_errors`` lists them.
"""

from __future__ import annotations

import enum
from typing import Any, Mapping, Sequence

from autograder.results import Outcome, Report, TestResult, Visibility

__all__ = ["GsVisibility", "results_json", "failure_json", "rejected_json", "GRADER_ERROR_TEST", "STUDENT_GRADER_ERROR_NOTE"]

GRADER_ERROR_TEST = "Grader error (only instructors see this entry)"
STUDENT_GRADER_ERROR_NOTE = ("The grader itself ran into a problem while grading this submission (not a "
                             "problem with your code). Your instructor can see the details and will "
                             "regrade it: the score below may be incomplete.")


class GsVisibility(str, enum.Enum):
    hidden = "hidden"  # instructors only
    after_due_date = "after_due_date"
    after_published = "after_published"
    visible = "visible"


def _points(value: float) -> str:
    return f"{value:g}"


def _test_entry(test: TestResult, number: str, hidden_visibility: GsVisibility) -> dict[str, Any]:
    visibility = hidden_visibility if test.visibility is Visibility.HIDDEN else GsVisibility.visible
    entry: dict[str, Any] = {"name": f"{test.exercise}: {test.name}", "number": number,
                             "score": test.score, "tags": [test.exercise], "visibility": visibility.value}
    if test.outcome is Outcome.NOT_GRADED:
        entry.update(name=entry["name"] + " (not graded here)", max_score=0.0,
                     output=f"Not graded here, and not counted in this score: {test.feedback}")
        return entry
    entry["max_score"] = test.max_score
    entry["status"] = "passed" if test.outcome is Outcome.PASSED else "failed"
    if test.outcome is not Outcome.PASSED:
        entry["output"] = test.feedback or f"{test.outcome.value.replace('_', ' ')}"
    return entry


def _summary(report: Report, title: str, titles: Mapping[str, str], notes: Sequence[str]) -> str:
    lines = [f"{title}: {_points(report.score)}/{_points(report.max_score)} points"]
    if report.has_grader_error:
        lines += ["", STUDENT_GRADER_ERROR_NOTE]
    lines.append("")
    for total in report.by_exercise():
        tests = [t for t in report.tests if t.exercise == total.exercise]
        missed = sum(t.outcome not in (Outcome.PASSED, Outcome.NOT_GRADED) for t in tests)
        detail = f"  ({missed} of {len(tests)} tests did not pass)" if missed else ""
        name = titles.get(total.exercise, "")
        lines.append(f"{total.exercise}  {_points(total.score)}/{_points(total.max_score)}"
                     f"{'  ' + name if name else ''}{detail}")
    for total in report.by_exercise():
        common = report.common_failure(total.exercise)
        if common:
            lines.append(f"\n{total.exercise}: every test failed the same way: {common}")
    extra = [*notes, *report.not_run]
    if report.meta.get("ignored_files"):
        extra.append(f"Ignored (never run, never read by the grader): {report.meta['ignored_files']}")
    if extra:
        lines += ["", *extra]
    if any(t.visibility is Visibility.HIDDEN for t in report.tests):
        lines += ["", "Per-test results of the hidden tests appear here once your instructor publishes "
                      "the grades; the tests themselves stay hidden."]
    return "\n".join(lines)


def results_json(report: Report, *, title: str, execution_time: float,
                 hidden_visibility: GsVisibility = GsVisibility.after_published,
                 titles: Mapping[str, str] | None = None, notes: Sequence[str] = (),
                 extra_data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``results.json`` document for one graded submission."""
    order = {e: i for i, e in enumerate(report.exercises, start=1)}
    counters: dict[str, int] = {}
    tests = []
    for test in report.tests:
        counters[test.exercise] = counters.get(test.exercise, 0) + 1
        tests.append(_test_entry(test, f"{order.get(test.exercise, 0)}.{counters[test.exercise]}",
                                 hidden_visibility))
    errors = list(report.grader_errors) + [f"{t.exercise} {t.name}: {t.feedback}" for t in report.tests
                                           if t.grader_error]
    if errors:
        tests.append({"name": GRADER_ERROR_TEST, "score": 0.0, "max_score": 0.0, "status": "failed",
                      "visibility": GsVisibility.hidden.value, "output": "\n".join(errors)})
    document = {
        "score": report.score,
        "execution_time": round(execution_time),
        "output": _summary(report, title, titles or {}, notes),
        "output_format": "text",
        "stdout_visibility": GsVisibility.hidden.value,
        "extra_data": {**(extra_data or {}), "max_score": report.max_score, "grader_errors": errors,
                       "sandbox": report.meta.get("sandbox", ""),
                       "exercises": {e.exercise: {"score": e.score, "max_score": e.max_score}
                                     for e in report.by_exercise()}},
        "tests": tests,
    }
    if any(t.visibility is Visibility.HIDDEN for t in report.tests):
        # the summary quotes the hidden tests' scores: it is seen when they are (top-level visibility)
        document["visibility"] = hidden_visibility.value
    return document


def failure_json(message: str, *, execution_time: float, extra_data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``results.json`` when nothing could be graded because the grader itself failed."""
    return {
        "score": 0.0,
        "execution_time": round(execution_time),
        "output": STUDENT_GRADER_ERROR_NOTE + "\n\nNothing was graded, so the score of 0 is not a grade.",
        "output_format": "text",
        "stdout_visibility": GsVisibility.hidden.value,
        "extra_data": {**(extra_data or {}), "grader_errors": [message]},
        "tests": [{"name": GRADER_ERROR_TEST, "score": 0.0, "max_score": 0.0, "status": "failed",
                   "visibility": GsVisibility.hidden.value, "output": message}],
    }


def rejected_json(reason: str, *, execution_time: float, extra_data: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``results.json`` for a submission that cannot be graded at all (the student's to fix)."""
    return {
        "score": 0.0,
        "execution_time": round(execution_time),
        "output": f"Your submission could not be graded: {reason}\n\nFix it and submit again.",
        "output_format": "text",
        "stdout_visibility": GsVisibility.hidden.value,
        "extra_data": {**(extra_data or {}), "rejected": reason, "grader_errors": []},
        "tests": [],
    }
