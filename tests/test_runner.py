"""The parent side: streaming, expected ids, crashes and run time limits, with tiny suites."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from autograder.manifest import load_manifest
from autograder.results import Outcome, TestResult
from autograder.runner import GradeInputError, ResultCollector, grade

SUITE_HEAD = """
import os, time
import pytest
pytestmark = pytest.mark.exercise("ex1")

@pytest.mark.points(1)
def test_a_first(student):
    assert student.m.f() == 1, "f() should return 1"
"""


def mini(tmp_path: Path, body: str, run_seconds: float = 300, points: int = 3):
    (tmp_path / "assignment.toml").write_text(textwrap.dedent(f"""
        [assignment]
        name = "mini"
        [paths]
        hidden_tests = "hidden"
        [exercises.ex1]
        module = "m.py"
        points = {points}
        run_seconds = {run_seconds}
    """))
    (tmp_path / "hidden").mkdir()
    (tmp_path / "hidden" / "test_m.py").write_text(SUITE_HEAD + textwrap.dedent(body))
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "m.py").write_text("def f():\n    return 1\n")
    return load_manifest(tmp_path / "assignment.toml")


def test_a_crash_of_the_test_process_keeps_what_was_graded(tmp_path):
    manifest = mini(tmp_path, """
        @pytest.mark.points(1)
        def test_b_crash():
            os._exit(9)

        @pytest.mark.points(1)
        def test_c_after(student):
            assert student.m.f() == 1, "f"
    """)
    seen = []
    report = grade(tmp_path / "sub", tmp_path / "hidden", manifest, on_result=seen.append)
    outcomes = {t.name: t.outcome for t in report.tests}
    assert outcomes == {"test_a_first": Outcome.PASSED, "test_b_crash": Outcome.ERROR,
                        "test_c_after": Outcome.ERROR}
    assert [t.name for t in seen] == ["test_a_first"]  # streamed as it finished
    assert report.score == 1 and report.has_grader_error
    assert any("exit code 9" in e for e in report.grader_errors)


def test_the_run_time_limit_stops_the_run_and_keeps_earlier_results(tmp_path):
    manifest = mini(tmp_path, """
        @pytest.mark.points(1)
        def test_b_slow():
            time.sleep(120)

        @pytest.mark.points(1)
        def test_c_after(student):
            assert student.m.f() == 1, "f"
    """, run_seconds=1)
    report = grade(tmp_path / "sub", tmp_path / "hidden", manifest, startup_seconds=15)
    outcomes = {t.name: t.outcome for t in report.tests}
    assert outcomes == {"test_a_first": Outcome.PASSED, "test_b_slow": Outcome.TIMEOUT,
                        "test_c_after": Outcome.TIMEOUT}
    assert "exceeded its" in report.tests[1].feedback and report.duration < 60


def test_points_must_match_the_manifest_for_hidden_suites(tmp_path):
    manifest = mini(tmp_path, "", points=5)
    report = grade(tmp_path / "sub", tmp_path / "hidden", manifest)
    assert report.score == 1
    assert any("worth 1 points but the manifest says 5" in e for e in report.grader_errors)


def test_tests_without_points_or_exercise_are_grader_errors(tmp_path):
    manifest = mini(tmp_path, """
        def test_b_no_points(student):
            pass

        @pytest.mark.points(1)
        @pytest.mark.exercise("ex9")
        def test_c_unknown_exercise(student):
            pass
    """, points=1)
    report = grade(tmp_path / "sub", tmp_path / "hidden", manifest)
    assert [t.name for t in report.tests] == ["test_a_first"]
    assert any("test_b_no_points: needs @pytest.mark.points" in e for e in report.grader_errors)
    assert any("'ex9' is not an exercise" in e for e in report.grader_errors)


def test_a_broken_hidden_test_is_a_grader_error_not_the_students(tmp_path):
    manifest = mini(tmp_path, """
        @pytest.mark.points(1)
        def test_b_typo(student):
            assert helper(student.m.f()), "never reached"
    """, points=2)
    report = grade(tmp_path / "sub", tmp_path / "hidden", manifest)
    bad = report.tests[1]
    assert bad.outcome is Outcome.ERROR and bad.grader_error and "tell your instructor" in bad.feedback
    assert "helper(" not in bad.feedback  # never the test's source


def test_bad_requests_are_input_errors(tmp_path, manifest, repo):
    with pytest.raises(GradeInputError, match="submission not found"):
        grade(tmp_path / "nope", repo / "grading_tests", manifest)
    with pytest.raises(GradeInputError, match="unknown exercise ex9"):
        grade(repo / "solutions", repo / "grading_tests", manifest, ["ex9"])


def result(test_id: str, outcome: Outcome = Outcome.PASSED) -> dict:
    return {"type": "result", **TestResult("ex1", test_id, test_id, outcome, 1.0, 1.0).to_json()}


def test_results_for_unexpected_or_repeated_ids_are_rejected():
    import json

    c = ResultCollector(None)
    c.feed(json.dumps({"type": "collected", "tests": [TestResult("ex1", "t1", "t1", Outcome.ERROR, 0, 2).to_json()]}).encode())
    c.feed(json.dumps(result("forged")).encode())
    c.feed(json.dumps(result("t1")).encode())
    c.feed(json.dumps(result("t1", Outcome.FAILED)).encode())
    c.feed(b"not json")
    report = c.report(("ex1",), None, 0, False, 10, "")
    assert [(t.id, t.outcome, t.score, t.max_score) for t in report.tests] == [("t1", Outcome.PASSED, 2.0, 2.0)]
    assert sum("unexpected test id" in e for e in report.grader_errors) == 2
    assert any("malformed" in e for e in report.grader_errors)


def test_a_test_file_that_fails_to_load_does_not_stop_the_others(tmp_path):
    manifest = mini(tmp_path, "", points=1)
    (tmp_path / "hidden" / "test_broken.py").write_text("def test_x(:\n    pass\n")
    report = grade(tmp_path / "sub", tmp_path / "hidden", manifest)
    assert [(t.name, t.outcome) for t in report.tests] == [("test_a_first", Outcome.PASSED)]
    assert any("could not load test_broken.py" in e for e in report.grader_errors), report.grader_errors


def test_first_failure_stops_the_run_and_leaves_the_rest_not_graded(manifest, repo):
    report = grade(repo / "examples" / "partial", manifest.hidden_tests, manifest, ["ex1"], first_failure=True,
                   sandbox="none")
    failed = [t for t in report.tests if t.outcome is Outcome.FAILED]
    skipped = [t for t in report.tests if t.outcome is Outcome.NOT_GRADED]
    assert len(failed) == 1 and skipped, [(t.name, t.outcome.value) for t in report.tests]
    assert all("stopped at the first failed test" in t.feedback for t in skipped)
    assert not report.grader_errors and report.score < report.max_score
    assert sum(t.max_score for t in report.tests) == 20  # the suite still adds up
