"""``grade`` end to end, as students, TAs and CI call it: output contracts and exit codes."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

from autograder.reporters import render_text
from autograder.results import Outcome, Report, TestResult

TEST_KEYS = {"exercise", "id", "name", "outcome", "score", "max_score", "feedback"}


def grade_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=600)


def test_check_json_contract_on_the_solutions(repo):
    proc = grade_cli("check", "ex1", "ex2", "--submission", repo / "solutions", "--tests",
                     repo / "grading_tests", "--format", "json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert isinstance(data["score"], float) and data["score"] == data["max_score"] == 40.0
    assert data["tests"] and all(TEST_KEYS <= set(t) for t in data["tests"])
    assert {t["exercise"] for t in data["tests"]} == {"ex1", "ex2"}
    assert all(t["outcome"] == "passed" and t["score"] == t["max_score"] for t in data["tests"])


def test_check_exits_1_when_tests_fail(repo):
    proc = grade_cli("check", "--all", "--submission", repo / "student_template", "--tests",
                     repo / "grading_tests", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    data = json.loads(proc.stdout)
    outcomes = {t["outcome"] for t in data["tests"]}
    assert data["score"] == 0 and outcomes == {"not_implemented", "not_graded"}  # accuracy: no data here


@pytest.mark.parametrize("args, message", [
    (["check"], "name the exercises"),
    (["check", "ex1", "--all"], "name the exercises"),
    (["check", "ex9", "--tests", "grading_tests", "--submission", "solutions"], "unknown exercise ex9"),
    (["check", "ex1", "--submission", "no/such/folder"], "does not exist"),
    (["check", "ex1", "--submission", "solutions"], "tests folder not found"),
    (["check", "ex1", "--format", "xml"], "xml"),
])
def test_usage_errors_exit_2_with_a_message_on_stderr(repo, args, message):
    proc = grade_cli(*args, cwd=repo)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and proc.stdout == ""


def test_a_malformed_manifest_is_a_usage_error_naming_file_and_key(repo, tmp_path):
    bad = tmp_path / "assignment.toml"
    bad.write_text('[assignment]\nname = "x"\n[exercises.ex1]\nmodule = "ex1_shapes.py"\npoints = "ten"\n')
    proc = grade_cli("check", "ex1", "--submission", repo / "solutions", "--tests", repo / "grading_tests",
                     "--manifest", bad)
    assert proc.returncode == 2 and str(bad) in proc.stderr and "exercises.ex1.points" in proc.stderr


def test_a_grader_error_exits_3(repo, tmp_path):
    (tmp_path / "assignment.toml").write_text(
        '[assignment]\nname = "x"\n[exercises.ex1]\nmodule = "ex1_shapes.py"\npoints = 1\n')
    (tmp_path / "suite").mkdir()
    (tmp_path / "suite" / "test_x.py").write_text(textwrap.dedent("""
        import pytest
        pytestmark = pytest.mark.exercise("ex1")

        @pytest.mark.points(1)
        def test_typo(student):
            assert undefined_helper(student.ex1_shapes.linear_num_params(2, 3)), "x"
    """))
    proc = grade_cli("check", "ex1", "--submission", repo / "solutions", "--tests", tmp_path / "suite")
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "tell your instructor" in proc.stdout and "undefined_helper" not in proc.stdout


def test_text_output_on_a_broken_submission_shows_reasons_not_engine_tracebacks(repo):
    proc = grade_cli("check", "--all", "--submission", repo / "examples" / "broken", "--tests",
                     repo / "grading_tests")
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "SyntaxError" in out and "Ignored" in out and "conftest.py" in out
    assert "Traceback (most recent call last)" not in out and "autograder/" not in out
    assert "Total:" in out


def test_public_tests_are_the_default_in_a_student_repo(repo, tmp_path):
    student_repo = tmp_path / "repo"
    shutil.copytree(repo / "student_template", student_repo)
    for module in (repo / "solutions").glob("ex*.py"):
        shutil.copyfile(module, student_repo / module.name)
    proc = grade_cli("check", "--all", cwd=student_repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Hidden tests were not run" in proc.stdout and "✓" in proc.stdout


def test_check_runs_from_a_subfolder_and_takes_module_names(repo, tmp_path):
    student_repo = tmp_path / "repo"
    shutil.copytree(repo / "student_template", student_repo)
    shutil.copyfile(repo / "solutions" / "ex1_shapes.py", student_repo / "ex1_shapes.py")
    proc = grade_cli("check", "Ex1", cwd=student_repo / "assignments")  # the handouts' folder, a name as typed
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ex1 total: 5/5" in proc.stdout
    both = grade_cli("check", "ex1_shapes.py", "--all", cwd=student_repo)
    assert both.returncode == 2 and "not both" in both.stderr


def test_verify_reports_an_uncaught_mutant_and_exits_1(repo, tmp_path):
    (tmp_path / "mutants").mkdir()
    (tmp_path / "mutants" / "ex1.toml").write_text(
        'exercise = "ex1"\nmodule = "ex1_shapes.py"\n[[mutant]]\nname = "docstring_only"\n'
        'description = "edits a docstring, so no test can tell"\n[[mutant.replace]]\n'
        'old = "Reference solution (instructor only)."\nnew = "Reference solution."\n')
    text = (repo / "assignments" / "assignment.toml").read_text()
    text = text.replace('= "../mutants"', f'= "{tmp_path}/mutants"').replace('= "../', f'= "{repo}/')
    (tmp_path / "assignment.toml").write_text(text)
    proc = grade_cli("verify", "ex1", "--manifest", tmp_path / "assignment.toml", "--jobs", "2")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "docstring_only" in proc.stdout and "NOT caught" in proc.stdout
    assert "4/5 checks hold" in proc.stdout


def test_text_feedback_wraps_under_its_test_on_a_terminal_and_stays_whole_in_files():
    feedback = "conv2d_output_size(7, 3) returned 6, expected 5: " + "the - 1 is missing, " * 8 + "end"
    report = Report(("ex1",), (TestResult("ex1", "t", "test_t", Outcome.FAILED, 0, 1, feedback),))
    terminal, file = io.StringIO(), io.StringIO()
    render_text(report, terminal, color=True)  # a terminal of rich's default 80 columns
    render_text(report, file)
    lines = [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in terminal.getvalue().splitlines()]
    wrapped = [line for line in lines if line.strip() and "test_t" not in line and "total" not in line
               and not line.startswith(("ex1", "Total"))]
    assert len(wrapped) > 1 and all(len(line.rstrip()) <= 80 and line.startswith(" " * 6) for line in wrapped)
    assert f"      {feedback}" in file.getvalue().splitlines()


def test_text_says_a_failure_every_test_of_an_exercise_shares_once():
    missing = "importing ex3_vgg.py: your code raised ModuleNotFoundError: your submission has no ex3_vgg.py"
    report = Report(("ex3",), tuple(TestResult("ex3", n, n, Outcome.ERROR, 0, 1, missing) for n in ("test_a", "test_b")))
    out = io.StringIO()
    render_text(report, out)
    text = out.getvalue()
    assert text.count(missing) == 1 and "every test of ex3 failed the same way:" in text
    assert "test_a" in text and "test_b" in text


def test_a_batch_of_an_empty_folder_is_a_usage_error(repo, tmp_path):
    (tmp_path / "subs").mkdir()
    proc = grade_cli("batch", tmp_path / "subs", "--out", tmp_path / "out", cwd=repo)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"no submissions in {tmp_path / 'subs'}" in proc.stderr
