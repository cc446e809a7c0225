"""Notebook submissions graded end to end: staging, grade check, grade batch, discovery, the
advice a student reads."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import zipfile

import pytest
from notebook_builders import code, markdown, write_notebook

from autograder.batch import BatchOptions, RowStatus, grade_batch
from autograder.notebooks import stage_notebooks
from autograder.reporters import render_text
from autograder.results import Outcome, Report
from autograder.runner import GradeInputError, grade, stage_modules
from autograder.submissions import discover

MODULES = ("ex1_shapes.py", "ex2_lenet.py", "ex3_vgg.py")


def test_staging_converts_a_notebook_only_folder_and_prefers_py_files(tmp_path, manifest):
    folder = tmp_path / "nb"
    write_notebook(folder / "lab.ipynb", code("import math\n"), code("A = 1\n", "ex1"))
    notes: list[str] = []
    assert stage_modules(folder, manifest, tmp_path / "staged", notes) == []
    assert (tmp_path / "staged" / "ex1_shapes.py").is_file() and any("ex1_shapes.py from cell 2" in n for n in notes)

    both = tmp_path / "both"
    write_notebook(both / "lab.ipynb", code("A = 1\n", "ex1"))
    (both / "ex2_lenet.py").write_text("B = 2\n")
    assert stage_modules(both, manifest, tmp_path / "staged2") == ["lab.ipynb"]  # shown as ignored
    assert sorted(p.name for p in (tmp_path / "staged2").iterdir()) == ["ex2_lenet.py"]
    assert stage_notebooks(both, manifest.modules, tmp_path / "x").ignored == ("lab.ipynb",)


def test_a_malformed_notebook_is_a_usage_error_for_grade_check(tmp_path, repo, manifest):
    folder = tmp_path / "sub"
    folder.mkdir()
    (folder / "lab.ipynb").write_text("{not json")
    with pytest.raises(GradeInputError, match="lab.ipynb is not a valid notebook"):
        stage_modules(folder, manifest, tmp_path / "staged")
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "check", "ex1", "--submission", str(folder),
                           "--tests", str(repo / "grading_tests")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "lab.ipynb is not a valid notebook" in proc.stderr, proc.stderr


def test_discovery_finds_bare_notebooks_and_notebooks_in_folders_and_zips(tmp_path):
    root = tmp_path / "subs"
    write_notebook(root / "alice.ipynb", code("A = 1\n", "ex1"))
    write_notebook(root / "bob" / "lab.ipynb", code("# ex2\nB = 2\n"))
    write_notebook(tmp_path / "carol-src" / "lab.ipynb", markdown("## Exercise 1"), code("C = 3\n"))
    with zipfile.ZipFile(root / "carol.zip", "w") as zf:
        zf.write(tmp_path / "carol-src" / "lab.ipynb", "ex-cnn-carol/lab.ipynb")
    (root / "dave.ipynb").write_text('{"cells": [')
    (root / "erin").mkdir()
    (root / "erin" / "ex1_shapes.py").write_text("E = 5\n")
    write_notebook(root / "erin" / "lab.ipynb", code("E = 6\n", "ex1"))
    found = {s.name: s for s in discover(root, MODULES, tmp_path / "work")}
    assert sorted(found) == ["alice", "bob", "carol", "dave", "erin"]
    assert (found["alice"].folder / "ex1_shapes.py").read_text().count("A = 1") == 1
    assert "B = 2" in (found["bob"].folder / "ex2_lenet.py").read_text()
    assert "C = 3" in (found["carol"].folder / "ex1_shapes.py").read_text()
    assert not found["dave"].readable and "dave.ipynb is not a valid notebook" in found["dave"].problem
    assert found["erin"].folder == root / "erin"  # .py files win; stage_modules reports the notebook
    assert any("ex1_shapes.py from cell 1" in n for n in found["alice"].notes)

    write_notebook(root / "alice.ipynb", code("A = 7\n", "ex2"))  # a resubmission: nothing stale stays
    again = {s.name: s for s in discover(root, MODULES, tmp_path / "work")}
    assert sorted(p.name for p in again["alice"].folder.iterdir()) == ["ex2_lenet.py"]


# ---------------------------------------------------------------------------------------------
# end to end: the reference solutions, pasted into a notebook, get full marks


def solution_notebook(repo, path):
    ex1 = (repo / "solutions" / "ex1_shapes.py").read_text()
    ex2 = (repo / "solutions" / "ex2_lenet.py").read_text()
    return write_notebook(
        path,
        markdown("# Lab 4: CNN image classification"),
        code("%matplotlib inline\n!pip install torch\nimport torch\nfrom torch import nn\n"),
        markdown("## Exercise 1: output sizes"),
        code(ex1, "ex1"),
        code("print(conv2d_output_size(32, 3, padding=1))\n", "skip"),
        markdown("## Exercise 2: LeNet"),
        code(ex2, "ex2"),
        code("%%time\nfor epoch in range(100):\n    train_one_epoch(Net())\n", "skip"),
    )


def test_a_notebook_of_the_solutions_gets_full_marks(tmp_path, repo, manifest):
    solution_notebook(repo, tmp_path / "sub" / "lab.ipynb")
    report = grade(tmp_path / "sub", repo / "grading_tests", manifest, exercises=["ex1", "ex2"])
    assert not report.grader_errors, report.grader_errors
    assert report.score == report.max_score == 40, [(t.name, t.outcome, t.feedback) for t in report.tests]
    assert "ignored_files" not in report.meta
    assert "ex1_shapes.py from cell" in report.meta["notebook"]  # what went where, for the student
    assert " uses " not in report.meta["notebook"]  # no false NameError warning on the real modules


def test_grade_check_takes_a_notebook_file(tmp_path, repo):
    path = solution_notebook(repo, tmp_path / "lab.ipynb")
    proc = subprocess.run([sys.executable, "-m", "autograder.cli", "check", "ex1", "--submission", str(path),
                           "--tests", str(repo / "grading_tests"), "-f", "json"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["score"] == report["max_score"] == 20 and "ex1_shapes.py" in report["meta"]["notebook"]


def test_batch_grades_a_bare_notebook_and_gives_a_broken_one_its_own_row(tmp_path, repo, manifest):
    subs = tmp_path / "subs"
    solution_notebook(repo, subs / "alice.ipynb")
    (subs / "bob.ipynb").write_text('{"nbformat": 4, "cells": [}')
    rows = {r.student: r for r in grade_batch(subs, tmp_path / "out", manifest,
                                              BatchOptions(tests=repo / "grading_tests", exercises=("ex1", "ex2")))}
    assert rows["alice"].status is RowStatus.GRADED and rows["alice"].total == 40, rows["alice"].reason
    assert rows["bob"].status is RowStatus.UNREADABLE and "bob.ipynb is not a valid notebook" in rows["bob"].reason
    with open(tmp_path / "out" / "grades.csv", newline="") as fh:
        table = {row["student"]: row for row in csv.DictReader(fh)}
    assert table["alice"]["total"] == "40" and table["bob"]["status"] == "unreadable"
    # the student reads which cells became which module (and what was left out)
    feedback = (tmp_path / "out" / "feedback" / "alice.md").read_text()
    assert "> Your notebook:" in feedback and "ex2_lenet.py" in feedback


def test_notebook_notes_are_shown_one_per_line():
    report = Report(("ex2",), meta={"notebook": "lab.ipynb: ex2_lenet.py from cell 2; lab.ipynb: ex2_lenet.py uses nn, "
                                                "defined only in cell 4 (tagged skip, not graded)"})
    out = io.StringIO()
    render_text(report, out, color=False)
    assert "Your notebook:\n- lab.ipynb: ex2_lenet.py from cell 2\n- lab.ipynb: ex2_lenet.py uses nn" in out.getvalue()


def test_a_notebook_whose_import_times_out_is_advised_to_tag_the_cell_skip(tmp_path, repo, fast_manifest):
    source = (repo / "solutions" / "ex1_shapes.py").read_text()
    write_notebook(tmp_path / "sub" / "lab.ipynb", code(source, "ex1"), code("while True:  # train\n    pass\n", "ex1"))
    report = grade(tmp_path / "sub", repo / "grading_tests", fast_manifest, exercises=["ex1"])
    tests = [t for t in report.tests if t.exercise == "ex1"]
    assert tests and all(t.outcome is Outcome.TIMEOUT for t in tests), [(t.name, t.outcome) for t in tests]
    assert all("lab.ipynb" in t.feedback and "cell tag `skip`" in t.feedback for t in tests), tests[0].feedback
    assert not any("__main__" in t.feedback for t in tests)



def test_tracebacks_and_syntax_errors_point_into_the_notebook(tmp_path, repo, fast_manifest):
    broken = ((repo / "solutions" / "ex1_shapes.py").read_text()
              + "\n\ndef pool2d_output_size(*args, **kwargs):\n    raise KeyError('mine')\n")
    write_notebook(tmp_path / "a" / "lab.ipynb", markdown("# Exercise 1"), code("%matplotlib inline\n" + broken))
    report = grade(tmp_path / "a", repo / "grading_tests", fast_manifest, exercises=["ex1"])
    traced = [t for t in report.tests if 'File "' in t.feedback]
    line = ("%matplotlib inline\n" + broken).split("\n").index("    raise KeyError('mine')") + 1
    assert traced and all(f'File "lab.ipynb", cell 2, line {line}, in pool2d_output_size' in t.feedback
                          for t in traced), [t.feedback for t in traced]

    write_notebook(tmp_path / "b" / "lab.ipynb", code("import math\n"), code("# ex1\nA = 1\ndef f(:\n    pass\n"))
    report = grade(tmp_path / "b", repo / "grading_tests", fast_manifest, exercises=["ex1"])
    assert all("importing ex1_shapes.py (made from the ex1_shapes cells of lab.ipynb): your code raised "
               "SyntaxError: lab.ipynb, cell 2, line 3: invalid syntax" in t.feedback
               for t in report.tests), report.tests[0].feedback


def test_an_exercise_without_cells_in_a_notebook_is_named_as_not_started(tmp_path, repo, fast_manifest):
    write_notebook(tmp_path / "a" / "lab.ipynb", code((repo / "solutions" / "ex1_shapes.py").read_text(), "ex1"))
    report = grade(tmp_path / "a", repo / "grading_tests", fast_manifest, exercises=["ex2"])
    assert report.tests and all("lab.ipynb has no cell for ex2_lenet.py: not started yet? Give its cells the tag "
                                "ex2_lenet" in t.feedback for t in report.tests), report.tests[0].feedback
