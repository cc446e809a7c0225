"""The parent side: streaming, expected ids, crashes and run time limits, with tiny suites."""

from __future__ import annotations

import shutil
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

        @pytest.mark.points(1)
        @pytest.mark.exercise("ex9")
        def test_d_unknown_exercise(student):
            pass
    """, points=1)
    (tmp_path / "hidden" / "test_unmarked.py").write_text(
        "import pytest\n\n@pytest.mark.points(1)\ndef test_x():\n    pass\n\n"
        "@pytest.mark.points(1)\ndef test_y():\n    pass\n")
    report = grade(tmp_path / "sub", tmp_path / "hidden", manifest)
    assert [t.name for t in report.tests] == ["test_a_first"]
    assert any("test_b_no_points: needs @pytest.mark.points" in e for e in report.grader_errors)
    assert sum("'ex9' is not an exercise" in e for e in report.grader_errors) == 1  # once per file
    unmarked = [e for e in report.grader_errors if "test_unmarked.py" in e]
    assert len(unmarked) == 1 and 'add pytestmark = pytest.mark.exercise("exN")' in unmarked[0], unmarked


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


def test_mistakes_in_the_tests_are_grader_errors_and_debug_shows_where(tmp_path):
    manifest = mini(tmp_path, """
        @pytest.mark.points(1)
        def test_b_reference_typo(student, reference):
            assert student.m.f() == reference.m.ff(), "never reached"

        @pytest.mark.points(1)
        def test_c_not_a_module(student):
            assert student.mm.f() == 1, "never reached"

        @pytest.mark.points(1)
        def test_d_message_bug(student):
            got = student.m.f()
            if got != 2:
                raise AssertionError("expected 2, you returned " + got)
    """, points=4)
    (tmp_path / "sol").mkdir()
    (tmp_path / "sol" / "m.py").write_text("def f():\n    return 1\n")
    text = (tmp_path / "assignment.toml").read_text().replace('hidden_tests = "hidden"',
                                                               'hidden_tests = "hidden"\nsolutions = "sol"')
    (tmp_path / "assignment.toml").write_text(text)
    manifest = load_manifest(tmp_path / "assignment.toml")
    plain = {t.name: t for t in grade(tmp_path / "sub", tmp_path / "hidden", manifest).tests}
    for name in ("test_b_reference_typo", "test_c_not_a_module"):  # the test's mistake, not the student's
        assert plain[name].grader_error and "tell your instructor" in plain[name].feedback, plain[name]
    # an error in the test's own code on a value from the student cannot be told from a bad value
    message_bug = plain["test_d_message_bug"]
    assert message_bug.outcome is Outcome.FAILED and not message_bug.grader_error
    assert "returned a value the checks could not use (TypeError" in message_bug.feedback
    assert not any("--debug" in t.feedback or "you returned" in t.feedback for t in plain.values())

    debug = {t.name: t for t in grade(tmp_path / "sub", tmp_path / "hidden", manifest, debug=True).tests}
    assert "reference.m.ff()" in debug["test_b_reference_typo"].feedback  # the test's line, for its author
    assert "has no attribute 'ff'" in debug["test_b_reference_typo"].feedback
    assert "mm is not an exercise module" in debug["test_c_not_a_module"].feedback
    assert '"expected 2, you returned " + got' in debug["test_d_message_bug"].feedback
    assert debug["test_a_first"].feedback == ""  # passing tests are untouched


def test_a_manifest_folder_that_does_not_exist_is_an_input_error(tmp_path):
    manifest = mini(tmp_path, "")
    text = (tmp_path / "assignment.toml").read_text().replace('hidden_tests = "hidden"',
                                                               'hidden_tests = "hidden"\nsolutions = "solution"')
    (tmp_path / "assignment.toml").write_text(text)
    manifest = load_manifest(tmp_path / "assignment.toml")
    with pytest.raises(GradeInputError, match=r"assignment.toml: paths.solutions names .*solution, which is not a folder"):
        grade(tmp_path / "sub", tmp_path / "hidden", manifest)
    from autograder.batch import BatchOptions, grade_batch
    with pytest.raises(GradeInputError, match="paths.solutions"):  # a batch stops before writing anything
        grade_batch(tmp_path, tmp_path / "out", manifest, BatchOptions(tests=tmp_path / "hidden", exercises=("ex1",)))
    assert not (tmp_path / "out").exists()


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


def test_printed_output_in_public_feedback_leaves_out_the_environments_own_noise(tmp_path):
    manifest = mini(tmp_path, """
        @pytest.mark.points(1)
        def test_b_prints(student):
            assert student.m.g() == 2, "g() should return 2"
    """, points=2)
    (tmp_path / "sub" / "m.py").write_text(
        "import sys\ndef f():\n    return 1\ndef g():\n"
        "    print('Fontconfig error: Cannot load default config file', file=sys.stderr)\n"
        "    print('my debug line')\n    return 3\n")
    shutil.copytree(tmp_path / "hidden", tmp_path / "public")  # visible tests show what the code printed
    report = grade(tmp_path / "sub", tmp_path / "public", manifest)
    failed = next(t for t in report.tests if t.name == "test_b_prints")
    assert "my debug line" in failed.feedback and "Fontconfig" not in failed.feedback, failed.feedback
