"""Notebook submissions: which code cells become which exercise module, and grading them for real."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from autograder.batch import BatchOptions, RowStatus, grade_batch
from autograder.reporters import render_text
from autograder.results import Report
from autograder.notebooks import (MAX_NOTEBOOK_BYTES, NotebookError, notebook_to_modules, read_cells,
                                  split_cells, stage_notebooks)
from autograder.runner import GradeInputError, grade, stage_modules
from autograder.submissions import discover

MODULES = ("ex1_shapes.py", "ex2_lenet.py", "ex3_vgg.py")


def code(source: str, *tags: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "metadata": {"tags": list(tags)} if tags else {},
            "outputs": [], "source": source.splitlines(keepends=True)}


def markdown(source: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": source}


def notebook(*cells: dict, language: str = "python") -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "cells": list(cells),
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": language, "name": "python3"},
                         "language_info": {"name": language}}}


def write_notebook(path, *cells: dict):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(notebook(*cells), indent=1))
    return path


def split(*cells: dict, name: str = "lab.ipynb"):
    conversion = split_cells(_cells(notebook(*cells)), MODULES, name)
    return dict(conversion.modules), conversion.notes


def _cells(data: dict):
    """The cells as :func:`read_cells` parses them from a file."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "nb.ipynb"
        path.write_text(json.dumps(data))
        return read_cells(path)


def run_module(source: str) -> dict:
    """Execute a generated module (they are plain Python: nothing from IPython may remain)."""
    namespace: dict = {"__name__": "generated"}
    exec(compile(source, "generated.py", "exec"), namespace)
    return namespace


# ---------------------------------------------------------------------------------------------
# one test per assignment rule


def test_tagged_cells_go_to_their_exercise_and_the_first_untagged_cell_is_shared():
    modules, notes = split(code("import math\n"), code("A = math.pi\n", "ex1"),
                           code("B = math.e\n", "ex2_lenet"), code("C = 3\n", "Exercise3"))
    assert sorted(modules) == list(MODULES)
    assert run_module(modules["ex1_shapes.py"])["A"] == pytest.approx(3.14159, abs=1e-4)
    assert "A =" not in modules["ex2_lenet.py"] and run_module(modules["ex2_lenet.py"])["B"] > 2.7
    assert run_module(modules["ex3_vgg.py"])["C"] == 3
    assert any("shared by every module: cell 1" in n for n in notes)


@pytest.mark.parametrize("header", ["# ex2", "# Exercise 2: LeNet", "# %% ex2_lenet", "#%% Ex. 2",
                                    "# ex2_lenet.py", "# EX2 -- the network"])
def test_a_header_comment_names_the_cells_exercise(header):
    modules, _ = split(code("X = 0\n"), code(f"{header}\nX = 2\n"))
    assert list(modules) == ["ex2_lenet.py"]
    assert run_module(modules["ex2_lenet.py"])["X"] == 2


def test_comments_that_name_no_exercise_are_not_headers():
    modules, _ = split(code("# imports\nimport math\n"), code("# example: not an exercise\nY = 1\n"),
                       code("# ex1\nZ = math.tau\n"))
    assert list(modules) == ["ex1_shapes.py"]
    assert run_module(modules["ex1_shapes.py"])["Y"] == 1  # both shared: they come before any exercise


def test_markdown_headings_open_sections_until_another_exercise_is_named():
    modules, notes = split(
        markdown("# Lab 4: CNNs\nSome intro that mentions Exercise 2 in passing."),
        code("import math\n"),
        markdown("## Exercise 1: output sizes"), code("A = 1\n"),
        markdown("### Try it"), code("A2 = A + 1\n"),  # a heading naming no exercise keeps the section
        markdown("## 🧠 **Ex 2** LeNet"), code("B = 2\n"),  # decoration before the name is skipped
        markdown("## Exercise 9 (optional)"), code("NINE = 9\n"),  # not an exercise of this assignment
        markdown("## ex3_vgg.py"), code("C = 3\n"), code("D = 4\n", "ex1"),  # a tag beats the section
        markdown("## Exercise #1, continued"), code("E = 5\n"))
    assert run_module(modules["ex1_shapes.py"])["A2"] == 2 and "D = 4" in modules["ex1_shapes.py"]
    assert "B = 2" in modules["ex2_lenet.py"] and "A = 1" not in modules["ex2_lenet.py"]
    assert "C = 3" in modules["ex3_vgg.py"] and "D = 4" not in modules["ex3_vgg.py"]
    assert "E = 5" in modules["ex1_shapes.py"]
    assert not any("NINE" in source for source in modules.values())
    assert any("not graded: cell 10 (for an exercise this assignment does not have)" in n for n in notes)


def test_cells_after_the_first_exercise_that_belong_to_none_and_skip_tags_are_left_out():
    modules, notes = split(code("import math\n"), code("# ex1\nA = 1\n"), code("scratch = train()\n"),
                           code("B = 2\n", "ex2"), code("download()\n", "skip"))
    assert "scratch" not in "".join(modules.values()) and "download" not in "".join(modules.values())
    assert any("not graded: cell 3 (after the first exercise but in none)" in n for n in notes)
    assert any("not graded: cell 5 (tagged skip)" in n for n in notes)


def test_the_shared_import_cell_is_prepended_to_every_module(tmp_path):
    path = write_notebook(tmp_path / "lab.ipynb", code("import math\nfrom collections import Counter\n"),
                          code("def area(r):\n    return math.pi * r * r\n", "ex1"),
                          code("def count(s):\n    return Counter(s)\n", "ex2"))
    notes = notebook_to_modules(path, MODULES, tmp_path / "out")
    ex1, ex2 = (tmp_path / "out" / "ex1_shapes.py").read_text(), (tmp_path / "out" / "ex2_lenet.py").read_text()
    assert ex1.index("import math") < ex1.index("def area") and ex2.index("import math") < ex2.index("def count")
    assert run_module(ex1)["area"](1) == pytest.approx(3.14159, abs=1e-4)
    assert run_module(ex2)["count"]("aab")["a"] == 2
    assert "# --- lab.ipynb, cell 2 ---" in ex1  # tracebacks lead back to the notebook
    assert not (tmp_path / "out" / "ex3_vgg.py").exists() and "no notebook cell for ex3_vgg.py" in notes


def test_names_defined_only_in_another_section_are_named_before_anything_runs():
    # Jupyter runs the whole notebook in one namespace; graded, each exercise is its own module
    modules, notes = split(
        markdown("## Exercise 1"),
        code("def helper(n):\n    return n + 1\n\ndef conv(size):\n    return helper(size)\n"),  # cell 2
        markdown("## Exercise 2"),
        code("class Net(nn.Module):\n    def forward(self, x):\n        return F.relu(helper(x))\n"),  # cell 4
        markdown("### Imports I forgot"),
        code("import torch.nn as nn\nimport torch.nn.functional as F\n"),  # cell 6: still ex2's section
        markdown("## Exercise 3"),
        code("from math import *\nclass VGG(nn.Module):\n    pass\n"),  # a star import may define anything
        code("import torch\n", "skip"),  # cell 9
    )
    ex2 = [n for n in notes if "ex2_lenet.py uses" in n]
    assert len(ex2) == 1 and "helper, defined only in cell 2 (in ex1_shapes.py's cells)" in ex2[0], notes
    assert "NameError" in ex2[0] and "before the first exercise" in ex2[0]
    assert not any("; " in n for n in notes)  # the report joins the notes with "; " and splits them again
    # in ex2's own cells, but in a later one than the class that needs nn as it is defined (its base
    # class); F is read only when forward runs, after the whole module: fine
    order = [n for n in notes if "ex2_lenet.py: cell 4 uses" in n]
    assert len(order) == 1 and "cell 4 uses nn as it runs, but only cell 6, further down, defines it" in order[0], notes
    assert not any("uses F" in n or "uses nn," in n for n in notes), notes
    assert not any("ex3_vgg.py uses" in n or "ex1_shapes.py uses" in n for n in notes), notes


def test_cells_run_in_another_order_than_the_notebook_shows_are_named():
    modules, notes = split(
        markdown("## Exercise 1"),
        code("SIZES = [conv(s) for s in range(1, 4)]\n"),  # cell 2: calls conv as it runs
        code("def conv(size):\n    return helper(size) + OFFSET\n"),  # cell 3: reads helper, OFFSET only when called
        code("def helper(n):\n    return n\nOFFSET = 1\nsquares = [k * k for k in range(3)]\n"),
        code("k = 2\n"),  # binds the name a comprehension above uses as its own variable: no note
    )
    assert [n for n in notes if "uses" in n] == [
        "lab.ipynb: ex1_shapes.py: cell 2 uses conv as it runs, but only cell 3, further down, defines it. "
        "Graded, the module runs top to bottom, so this is a NameError (it worked in Jupyter only because the "
        "cells ran in another order): move cell 3 (or that definition) above cell 2"], notes
    namespace: dict = {}
    with pytest.raises(NameError):  # what the note warns about
        exec(modules["ex1_shapes.py"], namespace)


def test_an_import_cell_outside_every_section_is_named_for_each_module_that_needs_it():
    modules, notes = split(
        code("import math\n"),  # shared: fine
        markdown("## Exercise 1"),
        code("def area(r):\n    return math.pi * r * r * np.ones(1)\n"),
        code("import numpy as np\n", "skip"),  # cell 4, tagged skip
        markdown("## Exercise 2"),
        code("def total(xs):\n    return torch.tensor(xs).sum()\n"),
        markdown("## Exercise 4"),  # not in this assignment
        code("import torch\n"),  # cell 8
    )
    assert any("ex1_shapes.py uses np, defined only in cell 4 (tagged skip, not graded)" in n for n in notes), notes
    assert any("ex2_lenet.py uses torch, defined only in cell 8 (for an exercise this assignment does not have"
               in n for n in notes), notes
    assert not any("uses math" in n for n in notes)


def test_magics_and_shell_lines_are_commented_out_never_run(tmp_path):
    marker = tmp_path / "ran"
    modules, notes = split(
        code(f"%matplotlib inline\n!touch {marker}\nimport math\nfiles = !ls\nmath?\n"
             "from google.colab import drive\ndrive.mount('/content/drive')\n"),  # Colab only
        code("def f(n):\n    %time g()\n    s = ('%d'\n         % n)\n    return s\n", "ex1"),
        code("%%time\nT = 1\n", "ex2"),
        code(f"%%bash\ntouch {marker}\n", "ex2"),
        code("%%writefile ex3_vgg.py\nV = 3\n"),
        code(f"%%writefile notes.txt\ntouch {marker}\n", "ex3"))
    ex1 = run_module(modules["ex1_shapes.py"])
    assert ex1["f"](7) == "7"  # `% n` continuing an expression is Python, not a magic
    assert run_module(modules["ex2_lenet.py"])["T"] == 1 and "%%time" not in modules["ex2_lenet.py"]
    assert run_module(modules["ex3_vgg.py"])["V"] == 3
    assert not any(line.startswith("touch") for m in modules.values() for line in m.splitlines())
    assert "notes.txt" not in "".join(modules.values())
    assert "# [notebook: IPython syntax, not run] !touch" in modules["ex1_shapes.py"]
    assert not marker.exists()
    assert any("commented out (never run) in cells 1, 2" in n for n in notes)
    assert any("%%bash (cell 4)" in n and "%%writefile notes.txt (cell 6)" in n for n in notes)


def test_future_imports_move_to_the_top_of_each_module():
    modules, _ = split(code("import math\n"),
                       code('"""Docstring."""\nfrom __future__ import annotations\ndef f(x: Undefined) -> int:\n'
                            '    return 1\n', "ex1"))
    assert run_module(modules["ex1_shapes.py"])["f"](0) == 1


def test_a_notebook_named_after_an_exercise_starts_in_its_section():
    modules, _ = split(code("import math\n"), code("A = 1\n"), name="ex2 (1).ipynb")
    assert list(modules) == ["ex2_lenet.py"] and run_module(modules["ex2_lenet.py"])["A"] == 1


# ---------------------------------------------------------------------------------------------
# bad notebooks


@pytest.mark.parametrize("text, phrase", [
    ('{"cells": [', "its JSON is malformed at line 1, column 12"),
    ("[1, 2]", "the top level is not a JSON object"),
    ('{"nbformat": 4, "cells": {}}', 'no "cells" list'),
    ('{"nbformat": 4, "cells": [{"source": "x"}]}', "cell 1 has no cell_type"),
    ('{"nbformat": 4, "cells": [{"cell_type": "code", "source": 3}]}', "cell 1 has a source"),
    ('{"nbformat": 4, "cells": [{"cell_type": "code", "source": "", "metadata": {"tags": "ex1"}}]}',
     "cell 1 has tags"),
    ('{"nbformat": 3, "worksheets": []}', "nbformat 3"),
    ('{"nbformat": 4, "cells": [], "metadata": {"language_info": {"name": "R"}}}', "is a notebook for R, not Python"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
])
def test_malformed_notebooks_are_refused_with_the_file_name(tmp_path, text, phrase):
    path = tmp_path / "alice lab.ipynb"
    path.write_text(text)
    with pytest.raises(NotebookError) as info:
        notebook_to_modules(path, MODULES, tmp_path / "out")
    assert "alice lab.ipynb" in str(info.value) and phrase in str(info.value)
    assert not (tmp_path / "out").exists()


def test_oversize_notebooks_are_refused_before_parsing(tmp_path):
    assert MAX_NOTEBOOK_BYTES == 20 * 2**20
    path = tmp_path / "big.ipynb"
    with open(path, "wb") as fh:
        fh.write(b" " * (MAX_NOTEBOOK_BYTES + 1))
    with pytest.raises(NotebookError, match=r"big.ipynb is bigger than 20 MB.*clear its outputs"):
        read_cells(path)
    small = write_notebook(tmp_path / "small.ipynb", code("# ex1\nA = 1\n" + "# padding\n" * 200))
    with pytest.raises(NotebookError, match="bigger than"):
        read_cells(small, max_bytes=1000)


def test_a_notebook_with_no_exercise_cell_is_an_error(tmp_path):
    path = write_notebook(tmp_path / "lab.ipynb", markdown("# Lab"), code("import torch\n"))
    with pytest.raises(NotebookError, match="lab.ipynb: no code cell belongs to an exercise"):
        notebook_to_modules(path, MODULES, tmp_path / "out")


def test_two_notebooks_are_merged_unless_they_hold_the_same_exercise(tmp_path):
    one = write_notebook(tmp_path / "a" / "one.ipynb", code("A = 1\n", "ex1"))
    two = write_notebook(tmp_path / "a" / "two.ipynb", code("B = 2\n", "ex2"))
    notebook_to_modules([one, two], MODULES, tmp_path / "out")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["ex1_shapes.py", "ex2_lenet.py"]
    copy = write_notebook(tmp_path / "b" / "lab (1).ipynb", code("B = 3\n", "ex2"))
    with pytest.raises(NotebookError, match=r"two.ipynb and lab \(1\).ipynb both hold cells for ex2_lenet.py"):
        notebook_to_modules([two, copy], MODULES, tmp_path / "out2")


# ---------------------------------------------------------------------------------------------
# staging (grade check) and discovery (grade batch)


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

