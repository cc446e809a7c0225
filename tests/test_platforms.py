"""The CI report formats (junit, markdown, classroom, classroom50) on a report with every outcome,
and ``grade check --format ... --output ...`` pairing."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from autograder.platforms import SubmissionContext, classroom50_result, classroom_results
from autograder.reporters import Format, OutputError, pair_outputs, render
from autograder.results import Outcome, Report, TestResult

CONTEXT = SubmissionContext.from_env({}, "cnn", now=dt.datetime(2026, 6, 1, 14, 33, 11, tzinfo=dt.timezone.utc))


def result(exercise, name, outcome, score, max_score, feedback="", **kw):
    return TestResult(exercise, f"test_{exercise}.py::{name}", name, outcome, score, max_score, feedback, 0.25, **kw)


REPORT = Report(("ex1", "ex2"), (
    result("ex1", "test_ok", Outcome.PASSED, 1.5, 1.5),
    result("ex1", "test_wrong", Outcome.FAILED, 0.0, 2.0, "expected 5 | got 4\n<b>second line</b>\x1b[31m"),
    result("ex1", "test_stub", Outcome.NOT_IMPLEMENTED, 0.0, 1.0, "not implemented yet: ex1.f"),
    result("ex2", "test_crash", Outcome.ERROR, 0.0, 2.0, "ZeroDivisionError: division by zero"),
    result("ex2", "test_slow", Outcome.TIMEOUT, 0.0, 1.0, "took longer than 60 s"),
    result("ex2", "test_accuracy", Outcome.NOT_GRADED, 0.0, 10.0, "no CIFAR-10 data"),
), not_run=("Hidden tests were not run.",), duration=1.0, meta={"visibility": "visible"})


def rendered(fmt: Format, report: Report = REPORT) -> str:
    out = io.StringIO()
    render(report, fmt, out, CONTEXT)
    return out.getvalue()


def test_junit_counts_each_outcome_and_stays_valid_xml():
    root = ET.fromstring(rendered(Format.junit))
    assert {k: root.get(k) for k in ("tests", "failures", "errors", "skipped")} == \
        {"tests": "6", "failures": "3", "errors": "1", "skipped": "1"}
    ex1, ex2 = root.findall("testsuite")
    assert (ex1.get("failures"), ex2.get("errors"), ex2.get("skipped")) == ("2", "1", "1")
    assert {p.get("name"): p.get("value") for p in ex1.find("properties")} == {"score": "1.5", "max_score": "4.5"}
    wrong = ex1.find("testcase[@name='test_wrong']/failure")
    assert wrong.get("type") == "failed" and wrong.get("message") == "expected 5 | got 4"
    assert "<b>second line</b>" in wrong.text and "\x1b" not in wrong.text  # escaped; invalid XML chars replaced
    assert ex2.find("testcase[@name='test_slow']/failure").get("type") == "timeout"
    assert ex2.find("testcase[@name='test_accuracy']/skipped").get("message") == "no CIFAR-10 data"


def test_a_passing_tests_note_reaches_junit_markdown_and_text():
    note = "lenet reached 61.2% test accuracy after 8 epochs (at least 45.0% required)"
    report = Report(("ex5",), (result("ex5", "test_accuracy", Outcome.PASSED, 10.0, 10.0, note),))
    case = ET.fromstring(rendered(Format.junit, report)).find("testsuite/testcase")
    assert case.find("system-out").text == note and case.find("failure") is None
    assert f"| 10/10 | {note} |" in rendered(Format.markdown, report)
    assert note in rendered(Format.text, report)


def test_junit_lists_grader_errors_as_errors():
    root = ET.fromstring(rendered(Format.junit, Report(("ex1",), REPORT.tests[:1], grader_errors=("boom",))))
    assert root.get("errors") == "1" and root.get("tests") == "2"
    assert root.find("testsuite[@name='grader']/testcase/error").text == "boom"


def test_markdown_has_points_per_exercise_and_escapes_cells():
    text = rendered(Format.markdown)
    assert text.startswith("### Autograding: 1.5/7.5 points (public tests)\n")
    assert "| ex1 | 1.5/4.5 | 1 | 2 | 0 |" in text and "| ex2 | 0/3 | 0 | 2 | 1 |" in text
    assert "| **Total** | **1.5/7.5** | 1 | 4 | 1 |" in text
    assert "expected 5 \\| got 4" in text and "<b>" not in text and "&lt;b&gt;" not in text  # first line only
    assert "| ex2 | test_accuracy | - not graded | -/10 | no CIFAR-10 data |" in text  # not a zero
    assert "> Hidden tests were not run." in text and text.endswith("\n\n")


def test_classroom_runner_results_follow_the_reporter_contract():
    lines = rendered(Format.classroom).splitlines()
    assert [line.split("=", 1)[0] for line in lines] == ["ex1", "ex2"]
    decoded = {k: json.loads(base64.b64decode(v)) for k, v in (line.split("=", 1) for line in lines)}
    assert decoded == classroom_results(REPORT)
    ex1, ex2 = decoded["ex1"], decoded["ex2"]
    assert ex1["version"] == 1 and ex1["status"] == "fail" and ex1["max_score"] == 4.5
    assert [(t["status"], t["score"]) for t in ex1["tests"]] == [("pass", 1.5), ("fail", 0), ("fail", 0)]
    assert ex1["tests"][0] == {"name": "ex1: test_ok", "status": "pass", "score": 1.5, "message": "",
                               "test_code": "", "filename": "test_ex1.py", "line_no": 0, "duration": 250}
    assert [t["status"] for t in ex2["tests"]] == ["error", "fail"]  # not graded: left out
    assert ex2["max_score"] == 3


def test_classroom_marks_every_runner_as_error_on_a_grader_error():
    results = classroom_results(Report(("ex1",), REPORT.tests[:1], grader_errors=("boom",)))
    assert results["ex1"]["status"] == "error" and "boom" in results["ex1"]["message"]


def test_classroom50_result_has_whole_points_and_the_contract_keys():
    data = json.loads(rendered(Format.classroom50))
    assert data == classroom50_result(REPORT, CONTEXT)
    assert set(data) == {"schema", "classroom", "assignment", "assignment_type", "owner", "submission", "commit",
                         "release", "review", "datetime", "graded_at", "score", "max-score", "tests"}
    assert data["schema"] == "classroom50/result/v1" and data["datetime"] == "2026-06-01T14:33:11Z"
    assert data["submission"] == "submit/2026-06-01T14-33-11Z-local" and data["assignment"] == "cnn"
    assert [(t["test-name"], t["passed"], t["score"], t["max-score"]) for t in data["tests"]] == [
        ("ex1: test_ok", True, 2, 2), ("ex1: test_wrong", False, 0, 2), ("ex1: test_stub", False, 0, 1),
        ("ex2: test_crash", False, 0, 2), ("ex2: test_slow", False, 0, 1)]  # 1.5 rounds half up
    assert (data["score"], data["max-score"]) == (2, 8)


def test_the_submission_context_reads_classroom50_then_github_variables():
    classroom50 = SubmissionContext.from_env({
        "CLASSROOM": "cs101", "ASSIGNMENT": "cnn-lab", "ASSIGNMENT_TYPE": "group", "OWNER": "alice",
        "SUBMISSION_TAG": "submit/2026-06-01T14-32-05Z-a1b2c3d", "COMMIT_URL": "c", "RELEASE_URL": "r",
        "REVIEW_URL": "v", "GITHUB_ACTOR": "bob"}, "ignored")
    assert (classroom50.classroom, classroom50.assignment, classroom50.assignment_type, classroom50.owner,
            classroom50.submission, classroom50.commit, classroom50.release, classroom50.review) == \
        ("cs101", "cnn-lab", "group", "alice", "submit/2026-06-01T14-32-05Z-a1b2c3d", "c", "r", "v")
    actions = SubmissionContext.from_env({
        "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "course/cnn-alice",
        "GITHUB_REPOSITORY_OWNER": "course", "GITHUB_SHA": "0123456789abcdef", "GITHUB_ACTOR": "alice"},
        "cnn", now=dt.datetime(2026, 6, 1, tzinfo=dt.timezone.utc))
    assert actions.commit == "https://github.com/course/cnn-alice/commit/0123456789abcdef"
    assert actions.submission == "submit/2026-06-01T00-00-00Z-0123456"
    assert actions.release.endswith("/releases/tag/submit%2F2026-06-01T00-00-00Z-0123456")
    assert (actions.classroom, actions.owner, actions.review) == ("course", "alice", actions.commit)


@pytest.mark.parametrize("formats, outputs, message", [
    ([Format.junit, Format.markdown], [], "one --output each"),
    ([Format.junit], [Path("a"), Path("b")], "1 --format but 2 --output"),
    ([Format.junit, Format.markdown], [Path("a"), Path("a")], "different file"),
    ([Format.text, Format.json], [Path("-"), Path("-")], "at most one may be -"),
])
def test_format_and_output_must_pair_up(formats, outputs, message):
    with pytest.raises(OutputError, match=message):
        pair_outputs(formats, outputs)
    assert pair_outputs([], []) == [(Format.text, Path("-"))]


def test_check_writes_several_formats_from_one_run(repo, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "autograder.cli", "check", "ex1", "--submission", repo / "solutions", "--tests",
         repo / "student_template" / "tests", "-f", "json", "-o", "-", "-f", "junit", "-o", tmp_path / "r" / "j.xml",
         "-f", "classroom", "-o", tmp_path / "c.txt"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(proc.stdout)["score"] == 5.0
    assert ET.parse(tmp_path / "r" / "j.xml").getroot().get("tests") == "5"
    assert (tmp_path / "c.txt").read_text().startswith("ex1=")
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "check", "ex1", "-f", "junit", "-f", "json"],
                          capture_output=True, text=True, cwd=repo, timeout=60)
    assert proc.returncode == 2 and "one --output each" in proc.stderr and proc.stdout == ""
