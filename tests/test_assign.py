"""``grade assign``: solution markers, the generated template, ``--check``, and the template's own tests."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
import sys
import textwrap

import pytest

from autograder.assign import (AssignError, MarkerError, build_template, check_template, make_stub, parse_blocks,
                               student_manifest, write_template)
from autograder.manifest import load_manifest
from autograder.results import Outcome
from autograder.runner import grade


def grade_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "autograder.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


SOLUTION = textwrap.dedent('''\
    """A module docstring students read."""

    # BEGIN SOLUTION NO PROMPT
    # instructor note
    # END SOLUTION

    import math


    # BEGIN SOLUTION NO PROMPT
    def _helper(x):
        return x * 2
    # END SOLUTION


    def area(r):
        """Area of a circle."""
        # TODO: one line with math.pi.
        # BEGIN SOLUTION
        return math.pi * r * r
        # END SOLUTION


    class Net:
        def forward(self, x):
            text = """
            # BEGIN SOLUTION (inside a string: not a marker)
            """
            # BEGIN SOLUTION
            return _helper(x)
            # END SOLUTION

        def nested(self):
            def inner():
                # BEGIN SOLUTION
                return 1
                # END SOLUTION
            return inner
''')

STUB = textwrap.dedent('''\
    """A module docstring students read."""

    import math


    def area(r):
        """Area of a circle."""
        # TODO: one line with math.pi.
        raise NotImplementedError("area")


    class Net:
        def forward(self, x):
            text = """
            # BEGIN SOLUTION (inside a string: not a marker)
            """
            # TODO: your code here.
            raise NotImplementedError("Net.forward")

        def nested(self):
            def inner():
                # TODO: your code here.
                raise NotImplementedError("Net.nested.<locals>.inner")
            return inner
''')


def test_blocks_become_a_todo_and_a_raise_and_solution_only_blocks_vanish():
    blocks = parse_blocks(SOLUTION, "sol.py")
    assert [(b.begin, b.end, b.prompt, b.qualname) for b in blocks] == [
        (3, 5, False, ""), (10, 13, False, ""), (19, 21, True, "area"), (29, 31, True, "Net.forward"),
        (35, 37, True, "Net.nested.<locals>.inner")]
    stub = make_stub(SOLUTION, "sol.py")
    assert stub == STUB
    compile(stub, "stub.py", "exec")
    assert make_stub(SOLUTION.replace("\n", "\r\n")) == STUB.replace("\n", "\r\n")  # line endings kept
    assert make_stub("x = 1\n") == "x = 1\n"  # no markers: unchanged


@pytest.mark.parametrize("source, line, message", [
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n", 2, "'# BEGIN SOLUTION' has no '# END SOLUTION'"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", 3,
     "nested '# BEGIN SOLUTION': the block opened at line 2 is not closed"),
    ("# BEGIN SOLUTION NO PROMPT\nx = 1\n# BEGIN SOLUTION\n# END SOLUTION\n", 3, "nested"),
    ("def f():\n    return 1\n    # END SOLUTION\n", 3, "'# END SOLUTION' without a '# BEGIN SOLUTION'"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n# END SOLUTION\n", 4, "indented 0 columns but its"),
    ("def f():\n    # BEGIN SOLUTIONS\n    return 1\n", 2, "malformed marker '# BEGIN SOLUTIONS'"),
    ("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n", 2, "malformed marker"),
    ("def f():\n    # end solution\n    return 1\n", 2, "malformed marker"),
    ("def f():\n    return 1  # BEGIN SOLUTION\n", 2, "alone on its line"),
    ("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n", 1, "not inside a function"),
    ("def f(:\n    # BEGIN SOLUTION\n    pass\n    # END SOLUTION\n", 1, "not valid Python"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n\n\ndef g():\n    # END SOLUTION\n    return 2\n", 7,
     "past the end of f (lines 1-5), where its '# BEGIN SOLUTION' (line 2) is"),
])
def test_malformed_markers_fail_loudly_with_file_and_line(source, line, message):
    with pytest.raises(MarkerError) as info:
        make_stub(source, "solutions/ex9.py")
    assert str(info.value).startswith(f"solutions/ex9.py:{line}: ") and message in str(info.value)


def test_the_committed_template_is_what_assign_generates(manifest):
    assert check_template(manifest) == ()
    for ex in manifest.exercises:  # every stub raises where the solution answers
        stub = (manifest.template / ex.module).read_text()
        assert "BEGIN SOLUTION" not in stub and "raise NotImplementedError" in stub
        assert "Reference solution" not in stub


def test_the_student_manifest_matches_the_course_manifest(manifest, tmp_path):
    (tmp_path / "assignment.toml").write_text(student_manifest(manifest))
    student = load_manifest(tmp_path / "assignment.toml")
    assert student.names == manifest.names and student.modules == manifest.modules
    assert [(e.points, e.limits, e.title) for e in student.exercises] == \
        [(e.points, e.limits, e.title) for e in manifest.exercises]
    assert student.solutions is None and student.hidden_tests is None and student.public_tests == tmp_path / "tests"


def test_check_passes_on_the_repo_and_fails_on_a_modified_copy(repo, tmp_path):
    proc = grade_cli("assign", "--check", cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "up to date" in proc.stdout
    copy = tmp_path / "template"
    shutil.copytree(repo / "student_template", copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert grade_cli("assign", "--check", "--out", copy, cwd=repo).returncode == 0
    stub = copy / "ex2_lenet.py"
    stub.write_text(stub.read_text().replace("raise NotImplementedError(\"Net.forward\")", "return x"))
    (copy / "tests" / "test_ex1_shapes.py").unlink()
    (copy / "ex1_solution_backup.py").write_text("secret = 1\n")
    proc = grade_cli("assign", "--check", "--out", copy, cwd=repo)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ex2_lenet.py: differs from the generated file (first at line" in proc.stdout
    assert "tests/test_ex1_shapes.py: missing" in proc.stdout
    assert "ex1_solution_backup.py: not generated" in proc.stdout
    assert "3 files" in proc.stderr and "run `grade assign`" in proc.stderr


def test_assign_writes_the_whole_template_and_a_rerun_changes_nothing(repo, manifest, tmp_path):
    out = tmp_path / "fresh"
    proc = grade_cli("assign", "--out", out, cwd=repo)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    expected = build_template(manifest)
    written = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert written == set(expected) and ".github/workflows/grade.yml" in written
    assert all((out / rel).read_bytes() == (repo / "student_template" / rel).read_bytes() for rel in expected)
    (out / "notes.txt").write_text("mine")
    again = write_template(manifest, out)
    assert again.written == () and len(again.unchanged) == len(expected) and again.extra == ("notes.txt",)


def test_a_malformed_marker_is_a_usage_error_naming_file_and_line(repo, tmp_path):
    solutions = tmp_path / "solutions"
    shutil.copytree(repo / "solutions", solutions, ignore=shutil.ignore_patterns("__pycache__"))
    source = (solutions / "ex2_lenet.py").read_text()
    line = source.splitlines().index("        # END SOLUTION") + 1
    (solutions / "ex2_lenet.py").write_text(source.replace("        # END SOLUTION\n", "", 1))
    text = (repo / "assignments" / "assignment.toml").read_text()
    text = text.replace('= "../solutions"', f'= "{solutions}"').replace('= "../', f'= "{repo}/')
    (tmp_path / "assignment.toml").write_text(text)
    proc = grade_cli("assign", "--check", "--manifest", tmp_path / "assignment.toml", cwd=repo)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    begin = source.splitlines().index("        # BEGIN SOLUTION") + 1
    assert f"{solutions / 'ex2_lenet.py'}:" in proc.stderr and "nested" in proc.stderr
    assert begin < line and proc.stdout == ""


def test_assign_refuses_to_overwrite_instructor_folders(manifest, repo, tmp_path):
    for folder in (repo / "solutions", repo, repo / "assignments"):
        with pytest.raises(AssignError, match="refusing"):
            write_template(manifest, folder)
    text = (repo / "assignments" / "assignment.toml").read_text().replace('= "../', f'= "{repo}/')
    (tmp_path / "assignment.toml").write_text(text.replace("student_template/tests", "grading_tests"))
    with pytest.raises(AssignError, match="same folder"):
        build_template(load_manifest(tmp_path / "assignment.toml"))


def test_a_generated_template_fails_its_public_tests_until_the_solutions_are_pasted_back(manifest, repo, tmp_path):
    out = tmp_path / "student-repo"
    write_template(manifest, out)
    student = load_manifest(out / "assignment.toml")
    report = grade(out, out / "tests", student, ["ex1", "ex2"])
    assert report.tests and report.score == 0 and not report.has_grader_error, report.grader_errors
    assert {t.outcome for t in report.tests} == {Outcome.NOT_IMPLEMENTED}
    for ex in student.exercises:
        shutil.copyfile(repo / "solutions" / ex.module, out / ex.module)
    report = grade(out, out / "tests", student, ["ex1", "ex2"])
    assert report.tests and report.score == report.max_score > 0, [t.feedback for t in report.tests]
    assert {t.outcome for t in report.tests} == {Outcome.PASSED}


def test_public_tests_of_an_exercise_the_manifest_dropped_stop_assign(manifest):
    dropped = dataclasses.replace(manifest, exercises=tuple(e for e in manifest.exercises if e.name != "ex6"))
    with pytest.raises(AssignError, match=r"test_ex6_transfer.py: tests exercise ex6, which the manifest does not have"):
        build_template(dropped)


def test_the_handouts_go_to_the_students_and_a_missing_one_stops_assign(manifest):
    files = build_template(manifest)
    for ex in manifest.exercises:  # the stubs say "see assignments/ex2.md": it is there
        assert files[f"assignments/{ex.handout}"] == (manifest.path.parent / ex.handout).read_bytes()
    wrong = dataclasses.replace(manifest, exercises=(dataclasses.replace(manifest.exercises[0], handout="nope.md"),
                                                     *manifest.exercises[1:]))
    with pytest.raises(AssignError, match=r"exercises.ex1.handout names .*nope.md, which does not exist"):
        build_template(wrong)
