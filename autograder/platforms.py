"""Report formats that CI and course platforms read. Each one formats a Report, computing nothing.

* ``junit``: JUnit XML, one ``<testsuite>`` per exercise, points as ``<properties>``.
* ``markdown``: points per exercise and every test's result, for ``$GITHUB_STEP_SUMMARY``.
* ``classroom``: GitHub Classroom's autograding runner result, one runner per exercise, as
  ``<exercise>=<base64 JSON>`` lines to append to ``$GITHUB_OUTPUT``. The contract, read from the
  sources: a runner action sets its ``result`` output to base64(JSON) of
  ``{"version": 1, "status": "pass"|"fail"|"error", "max_score": n, "tests": [{"name", "status",
  "score", "message", "test_code", "filename", "line_no", "duration"}]}``
  (classroom-resources/autograding-command-grader ``src/main.js``, ``generateResult``;
  autograding-python-grader writes the same per-test keys with ``score`` per passed test);
  ``autograding-grading-reporter`` (``src/main.js``) reads runner ``r`` from the environment
  variable ``r.toUpperCase() + "_RESULTS"``, fails the job when a runner's ``status`` is ``fail``
  or ``error``, prints ``name`` and ``message`` per test (``console-results.js``) and reports
  ``sum(tests[].score)`` out of ``sum(max_score)`` (``notify-classroom.js``). ``duration`` is in
  milliseconds, as the command grader writes it. There is no ``execution_time`` key in either.
* ``classroom50``: Classroom 50's ``result.json``, schema ``classroom50/result/v1``
  (foundation50/classroom50 ``schemas/result-v1.schema.json`` and ``runner.py`` ``validate_result``;
  wiki page "Advanced Autograding"): the keys ``schema, classroom, assignment, assignment_type,
  owner, submission (submit/...), commit, release, review, datetime (YYYY-MM-DDTHH:MM:SSZ), score,
  max-score, tests`` and no others (``graded_at`` is optional); integer points with score <=
  max-score; per test ``test-name, passed, score, max-score`` plus any diagnostic keys. Classroom 50
  runs an ``autograder.py`` in the student's checkout with ``CLASSROOM``, ``ASSIGNMENT``,
  ``ASSIGNMENT_TYPE``, ``OWNER``/``USERNAME``, ``SUBMISSION_TAG``, ``COMMIT_URL``, ``RELEASE_URL``
  and ``REVIEW_URL`` set; :meth:`SubmissionContext.from_env` reads them, falling back to the
  GitHub Actions variables elsewhere.

The platform formats carry graded tests only: a test not graded (no data set, no GPU) is neither
passed nor failed, so it is left out of their lists and counts (the Markdown and text reports
show it with the reason).
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import json
import math
import re
import urllib.parse
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Mapping, TextIO

from autograder.results import Outcome, Report, TestResult

__all__ = ["SubmissionContext", "render_junit", "render_markdown", "classroom_results", "render_classroom",
           "classroom50_result", "render_classroom50"]

_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_CLASSROOM_STATUS = {Outcome.PASSED: "pass", Outcome.ERROR: "error"}  # everything else: "fail"


def _points(x: float) -> str:
    return f"{x:g}"


def _graded(report: Report, exercise: str | None = None) -> list[TestResult]:
    return [t for t in report.tests if t.graded and (exercise is None or t.exercise == exercise)]


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


def _file_of(test: TestResult) -> str:
    return test.id.split("::", 1)[0] if "::" in test.id else ""


# -- JUnit XML -------------------------------------------------------------------------------

def _xml_text(text: str) -> str:
    return _XML_INVALID.sub("\ufffd", text)


def _properties(parent: ET.Element, **values: object) -> None:
    props = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(props, "property", name=name, value=_xml_text(str(value)))


def render_junit(report: Report, out: TextIO) -> None:
    """JUnit XML: failed, not implemented and timed-out tests are ``<failure>`` (type = outcome),
    errors ``<error>``, tests not graded ``<skipped>``; grader errors a ``grader`` suite of errors."""
    root = ET.Element("testsuites", name="grade check", tests=str(len(report.tests)),
                      time=f"{report.duration:.3f}")
    counts = {"failures": 0, "errors": 0, "skipped": 0}
    for total in report.by_exercise():
        tests = [t for t in report.tests if t.exercise == total.exercise]
        suite = ET.SubElement(root, "testsuite", name=total.exercise, tests=str(len(tests)),
                              time=f"{sum(t.duration for t in tests):.3f}")
        _properties(suite, score=_points(total.score), max_score=_points(total.max_score))
        mine = {"failures": 0, "errors": 0, "skipped": 0}
        for test in tests:
            case = ET.SubElement(suite, "testcase", classname=test.exercise, name=_xml_text(test.name),
                                 time=f"{test.duration:.3f}", file=_xml_text(_file_of(test)))
            _properties(case, outcome=test.outcome.value, score=_points(test.score),
                        max_score=_points(test.max_score))
            message = _xml_text(test.feedback.splitlines()[0] if test.feedback else test.outcome.value)
            if test.outcome is Outcome.PASSED:
                if test.feedback:  # a passing test's note (an accuracy reached) as the case's output
                    ET.SubElement(case, "system-out").text = _xml_text(test.feedback)
                continue
            if test.outcome is Outcome.NOT_GRADED:
                kind = "skipped"
                ET.SubElement(case, "skipped", message=message)
            else:
                kind = "errors" if test.outcome is Outcome.ERROR else "failures"
                element = ET.SubElement(case, "error" if kind == "errors" else "failure", message=message,
                                        type=test.outcome.value)
                element.text = _xml_text(test.feedback)
            mine[kind] += 1
        for key, value in mine.items():
            suite.set(key, str(value))
            counts[key] += value
    if report.grader_errors:
        suite = ET.SubElement(root, "testsuite", name="grader", tests=str(len(report.grader_errors)),
                              failures="0", errors=str(len(report.grader_errors)), skipped="0", time="0.000")
        for i, problem in enumerate(report.grader_errors, 1):
            case = ET.SubElement(suite, "testcase", classname="grader", name=f"grader error {i}", time="0.000")
            ET.SubElement(case, "error", message=_xml_text(problem.splitlines()[0] if problem else ""),
                          type="grader_error").text = _xml_text(problem)
        counts["errors"] += len(report.grader_errors)
        root.set("tests", str(len(report.tests) + len(report.grader_errors)))
    for key, value in counts.items():
        root.set(key, str(value))
    ET.indent(root)
    out.write('<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n")


# -- Markdown (GitHub step summary) ----------------------------------------------------------

def _cell(text: str, limit: int = 300) -> str:
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", "<br>")


def render_markdown(report: Report, out: TextIO) -> None:
    """A points-per-exercise table, then every test (in a collapsed section), notes and errors."""
    suite = {"visible": "public tests", "hidden": "hidden tests"}.get(report.meta.get("visibility", ""), "tests")
    lines = [f"### Autograding: {_points(report.score)}/{_points(report.max_score)} points ({suite})", "",
             "| Exercise | Points | Passed | Not passed | Not graded |", "| --- | ---: | ---: | ---: | ---: |"]
    for total in report.by_exercise():
        passed, not_graded = total.counts[Outcome.PASSED], total.counts[Outcome.NOT_GRADED]
        failed = sum(total.counts.values()) - passed - not_graded
        mark = " ✅" if total.complete and total.max_score else ""
        lines.append(f"| {_cell(total.exercise)} | {_points(total.score)}/{_points(total.max_score)}{mark} "
                     f"| {passed} | {failed} | {not_graded} |")
    outcomes = [t.outcome for t in report.tests]
    passed, not_graded = outcomes.count(Outcome.PASSED), outcomes.count(Outcome.NOT_GRADED)
    lines.append(f"| **Total** | **{_points(report.score)}/{_points(report.max_score)}** | {passed} "
                 f"| {len(outcomes) - passed - not_graded} | {not_graded} |")
    if report.tests:
        lines += ["", "<details><summary>Every test</summary>", "",
                  "| Exercise | Test | Result | Points | Feedback |", "| --- | --- | --- | ---: | --- |"]
        for t in report.tests:
            feedback = t.feedback.strip().splitlines()[0] if t.feedback.strip() else ""
            lines.append(f"| {_cell(t.exercise)} | {_cell(t.name)} | {t.outcome.mark} {t.outcome.value.replace('_', ' ')} "
                         f"| {_points(t.score) if t.graded else '-'}/{_points(t.max_score)} | {_cell(feedback)} |")
        lines += ["", "</details>"]
    lines += [""] + [f"> {_cell(note, 1000)}" for note in report.not_run]
    lines += [f"**Grader error** (not your code's fault: tell your instructor): {_cell(e, 1000)}"
              for e in report.grader_errors]
    out.write("\n".join(lines).rstrip("\n") + "\n\n")


# -- GitHub Classroom autograding runners ----------------------------------------------------

def classroom_results(report: Report) -> dict[str, dict]:
    """One runner result per exercise (the decoded JSON of the ``classroom`` format)."""
    results = {}
    for total in report.by_exercise():
        tests = _graded(report, total.exercise)
        entries = [{"name": f"{t.exercise}: {t.name}", "status": _CLASSROOM_STATUS.get(t.outcome, "fail"),
                    "score": _number(t.score), "message": t.feedback, "test_code": "", "filename": _file_of(t),
                    "line_no": 0, "duration": round(t.duration * 1000)} for t in tests]
        broken = report.grader_errors or any(t.grader_error for t in tests)
        status = "error" if broken else ("pass" if all(e["status"] == "pass" for e in entries) else "fail")
        result = {"version": 1, "status": status, "max_score": _number(total.max_score), "tests": entries}
        if report.grader_errors:
            result["message"] = "grader error: " + "; ".join(report.grader_errors)
        results[total.exercise] = result
    return results


def render_classroom(report: Report, out: TextIO) -> None:
    for exercise, result in classroom_results(report).items():
        encoded = base64.b64encode(json.dumps(result, separators=(",", ":")).encode("utf-8")).decode("ascii")
        out.write(f"{exercise}={encoded}\n")


# -- Classroom 50 ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SubmissionContext:
    """Who and what was graded, for Classroom 50's identity fields."""

    classroom: str
    assignment: str
    assignment_type: str
    owner: str
    submission: str
    commit: str
    release: str
    review: str
    datetime: str  # YYYY-MM-DDTHH:MM:SSZ
    graded_at: str

    @classmethod
    def from_env(cls, env: Mapping[str, str], assignment: str, now: dt.datetime | None = None) -> "SubmissionContext":
        """From Classroom 50's variables (set when its runner calls an autograder.py), else from
        GitHub Actions' (``GITHUB_REPOSITORY``, ``GITHUB_SHA``, ...), else local placeholders."""
        stamp = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        server, repo, sha = env.get("GITHUB_SERVER_URL", "https://github.com"), env.get("GITHUB_REPOSITORY"), env.get("GITHUB_SHA")
        submission = env.get("SUBMISSION_TAG") or f"submit/{stamp.replace(':', '-')}-{(sha or 'local')[:7]}"
        commit = env.get("COMMIT_URL") or (f"{server}/{repo}/commit/{sha}" if repo and sha else "local")
        release = env.get("RELEASE_URL") or (
            f"{server}/{repo}/releases/tag/{urllib.parse.quote(submission, safe='')}" if repo else "local")
        return cls(
            classroom=env.get("CLASSROOM") or env.get("GITHUB_REPOSITORY_OWNER") or "local",
            assignment=env.get("ASSIGNMENT") or assignment,
            assignment_type=env.get("ASSIGNMENT_TYPE") or "individual",
            owner=env.get("OWNER") or env.get("USERNAME") or env.get("GITHUB_ACTOR") or "local",
            submission=submission, commit=commit, release=release,
            review=env.get("REVIEW_URL") or commit, datetime=stamp, graded_at=stamp)


def _whole(points: float) -> int:
    """Classroom 50 counts whole points: a fractional point rounds half up."""
    return int(math.floor(points + 0.5))


def classroom50_result(report: Report, context: SubmissionContext) -> dict:
    tests = [{"test-name": f"{t.exercise}: {t.name}", "passed": t.outcome is Outcome.PASSED,
              "score": _whole(t.score), "max-score": _whole(t.max_score), "exercise": t.exercise,
              "outcome": t.outcome.value, **({"message": t.feedback} if t.feedback else {})}
             for t in _graded(report)]
    return {"schema": "classroom50/result/v1", "classroom": context.classroom, "assignment": context.assignment,
            "assignment_type": context.assignment_type, "owner": context.owner,
            "submission": context.submission, "commit": context.commit, "release": context.release,
            "review": context.review, "datetime": context.datetime, "graded_at": context.graded_at,
            "score": sum(t["score"] for t in tests), "max-score": sum(t["max-score"] for t in tests),
            "tests": tests}


def render_classroom50(report: Report, out: TextIO, context: SubmissionContext) -> None:
    out.write(json.dumps(classroom50_result(report, context), indent=2, ensure_ascii=False) + "\n")
