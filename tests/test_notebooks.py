"""Notebook submissions: which code cells become which exercise module (graded end to end:
test_notebook_grading.py)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest
from notebook_builders import code, markdown, notebook, write_notebook

from autograder.notebook_cells import cell_quote
from autograder.notebooks import (MAX_NOTEBOOK_BYTES, NotebookError, generated_from, notebook_position,
                                  notebook_to_modules,
                                  read_cells, split_cells)

MODULES = ("ex1_shapes.py", "ex2_lenet.py", "ex3_vgg.py")


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


@pytest.mark.parametrize("heading", ["## 2. Exercise 2: LeNet", "## 2) Exercise 2", "## Part 2 - Ex 2",
                                     "### 1.2 ex2_lenet", "## LeNet (Exercise 2)", "## Section 3: Exercise 2"])
def test_a_heading_with_a_section_number_or_a_trailing_exercise_names_it(heading):
    modules, _ = split(markdown("## 1. Exercise 1"), code("A = 1\n"), markdown(heading), code("B = 2\n"))
    assert "B = 2" in modules["ex2_lenet.py"] and "B = 2" not in modules["ex1_shapes.py"]
    # a number that is not a section number, or an exercise mentioned in passing, names none
    modules, _ = split(markdown("## Exercise 1"), code("A = 1\n"), markdown("## 2D convolutions, as in Exercise 2"),
                       code("B = 2\n"))
    assert list(modules) == ["ex1_shapes.py"]


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
    ex2 = [n for n in notes if "ex2_lenet.py: cell 4" in n and "as it runs" not in n]
    assert len(ex2) == 1 and ("ex2_lenet.py: cell 4 (`class Net(nn.Module):`…) uses helper, defined only in cell 2 "
                              "(`def helper(n):`…, in ex1_shapes.py's cells)") in ex2[0], notes
    assert "NameError" in ex2[0] and "before the first exercise" in ex2[0]
    assert "skip" not in ex2[0]  # cell 4 defines a class: graded code, not a demo to leave out
    assert not any("; " in n for n in notes)  # the report joins the notes with "; " and splits them again
    # in ex2's own cells, but in a later one than the class that needs nn as it is defined (its base
    # class); F is read only when forward runs, after the whole module: fine
    order = [n for n in notes if "ex2_lenet.py: cell 4" in n and "as it runs" in n]
    assert len(order) == 1 and ("cell 4 (`class Net(nn.Module):`…) uses nn as it runs, but only cell 6 "
                                "(`import torch.nn as nn`…), further down, defines it") in order[0], notes
    assert not any("uses F" in n or "uses nn," in n for n in notes), notes
    assert not any(n.startswith(("lab.ipynb: ex3_vgg.py", "lab.ipynb: ex1_shapes.py")) and " uses " in n
                   for n in notes), notes


def test_cells_run_in_another_order_than_the_notebook_shows_are_named():
    modules, notes = split(
        markdown("## Exercise 1"),
        code("SIZES = [conv(s) for s in range(1, 4)]\n"),  # cell 2: calls conv as it runs
        code("def conv(size):\n    return helper(size) + OFFSET\n"),  # cell 3: reads helper, OFFSET only when called
        code("def helper(n):\n    return n\nOFFSET = 1\nsquares = [k * k for k in range(3)]\n"),
        code("k = 2\n"),  # binds the name a comprehension above uses as its own variable: no note
    )
    assert [n for n in notes if "uses" in n] == [
        "lab.ipynb: ex1_shapes.py: cell 2 (`SIZES = [conv(s) for s in range(1, 4)]`) uses conv as it runs, but "
        "only cell 3 (`def conv(size):`…), further down, defines it. "
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
    assert any("ex1_shapes.py: cell 3 (`def area(r):`…) uses np, defined only in cell 4 (`import numpy as np`, "
               "tagged skip, not graded)" in n for n in notes), notes
    assert any("ex2_lenet.py: cell 6 (`def total(xs):`…) uses torch, defined only in cell 8 (`import torch`, for an "
               "exercise this assignment does not have" in n for n in notes), notes
    assert not any("uses math" in n for n in notes)


def test_magics_and_shell_lines_are_commented_out_never_run(tmp_path):
    marker = tmp_path / "ran"
    modules, notes = split(
        code(f"%matplotlib inline\n!touch {marker}\nimport math\nfiles = !ls\nmath?\n"
             "from google.colab import drive\ndrive.mount('/content/drive')\n"),  # Colab only
        code("def f(n):\n    %timeit g()\n    s = ('%d'\n         % n)\n    return s\n", "ex1"),
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


def test_a_time_line_magic_keeps_its_statement_and_timeit_does_not():
    # IPython runs `%time stmt` in the notebook's namespace (as a %%time cell runs its body):
    # `%time r = build()` defines r there, so the module must define it too
    cell = ("def build():\n    return [1, 2]\n"
            "%time r = build()\n"
            "n = %time len(r)\n"
            "def f():\n    %time return 7\n"
            "%timeit t = build()\n"  # %timeit keeps no assignment in IPython either
            "%time\n")  # nothing to run
    modules, notes = split(code(cell, "ex1"))
    source = modules["ex1_shapes.py"]
    ns = run_module(source)
    assert ns["r"] == [1, 2] and ns["n"] == 2 and ns["f"]() == 7 and "t" not in ns
    lines = source.splitlines()
    start = lines.index("# --- lab.ipynb, cell 1 ---") + 1
    assert lines[start + 2: start + 6] == ["r = build()", "n = len(r)", "def f():", "    return 7"]  # same places
    assert "# [notebook: IPython syntax, not run] %timeit t = build()" in source
    assert any("commented out (never run) in cell 1" in n for n in notes)


def test_display_is_provided_when_cells_call_it_and_line_numbers_do_not_move(capsys):
    # display() is a builtin in every Jupyter kernel, a NameError in a plain module
    cells = [code("from __future__ import annotations\nimport math\n"), markdown("## Exercise 2"),
             code("class Net:\n    def __repr__(self):\n        return 'Net()'\n"),
             code("# try it\nnet = Net()\ndisplay(net, 'two')\nraise ValueError(math.pi)\n")]
    modules, notes = split(*cells)
    plain, _ = split(*cells[:-1], code("# try it\nnet = Net()\nprint(net, 'two')\nraise ValueError(math.pi)\n"))
    source = modules["ex2_lenet.py"]
    assert source.splitlines()[2].startswith("from __future__")  # still first: the module compiles
    with pytest.raises(ValueError) as info:
        run_module(source)
    assert capsys.readouterr().out == "Net()\n'two'\n"  # each object's repr, as Jupyter's text output
    # the tracebacks' line numbers are those of the module without display(): nothing moved
    line = info.traceback[-1].lineno + 1
    assert source.splitlines()[line - 1] == "raise ValueError(math.pi)"
    assert plain["ex2_lenet.py"].splitlines()[line - 1] == "raise ValueError(math.pi)"
    assert len(source.splitlines()) == len(plain["ex2_lenet.py"].splitlines())
    assert any("ex2_lenet.py: cell 4 (`net = Net()`…) calls display(), which Jupyter provides" in n
               for n in notes), notes
    assert "def display" not in plain["ex2_lenet.py"]


def test_display_is_not_provided_when_a_cell_defines_it():
    mine, _ = split(code("def display(x):\n    return 'mine'\n"), code("# ex1\nA = display(1)\n"))
    assert run_module(mine["ex1_shapes.py"])["A"] == "mine"
    assert mine["ex1_shapes.py"].count("def display") == 1
    # defined in another exercise's cells: the cross-section note says so, no stand-in hides it
    modules, notes = split(markdown("## Exercise 1"), code("def display(x):\n    return x\n"),
                           markdown("## Exercise 2"), code("B = display(2)\n"))
    assert "def display" not in modules["ex2_lenet.py"]
    assert any("uses display, defined only in cell 2" in n for n in notes), notes


def test_a_demo_cell_after_the_last_exercise_that_needs_other_sections_is_left_out():
    # "## Experiments" names no exercise, so it does not end Exercise 2's section (rule 4); the
    # demo cell below it uses names from Exercise 1's section: graded with ex2 it would be a
    # NameError failing every ex2 test, so it is left out, with a note
    modules, notes = split(
        code("import math\n"),
        markdown("## Exercise 1"), code("def helper(n):\n    return n\nLOADER = [1]\n"),
        markdown("## Exercise 2"), code("class Net:\n    pass\n"),
        markdown("## Experiments: train everything for real, slowly"),
        code("# a quick run\nm = Net()\nprint(helper(3), LOADER)\n"),  # cell 7
        code("print(Net())\n"),  # cell 8: a demo that needs only ex2's names stays
        code("def check():\n    return helper(1)\n"),  # cell 9: defines a function: graded, with the note
    )
    ex2 = modules["ex2_lenet.py"]
    assert "m = Net()" not in ex2 and "print(Net())" in ex2 and "def check" in ex2
    run_module(ex2)  # imports without a NameError
    assert any(n.startswith("lab.ipynb: not graded: cell 7 (under `## Experiments: train`…, a heading naming no "
                            "exercise, after ex2_lenet.py's cells: a demo that uses names only other exercises "
                            "define") for n in notes), notes
    note = next(n for n in notes if "ex2_lenet.py: cell 9" in n)
    assert ("Cell 9 is graded with ex2_lenet.py: a heading naming no exercise (`## Experiments: train`…) "
            "does not end a section") in note
    assert "; " not in note and not any("ex2_lenet.py: cell 7" in n for n in notes)
    # a sub-heading under the exercise ("### Try it") is plainly part of it: no such remark
    _, notes = split(markdown("## Exercise 1"), code("def helper(n):\n    return n\n"),
                     markdown("## Exercise 2"), markdown("### Try it"), code("print(helper(1))\n"))
    note = next(n for n in notes if "ex2_lenet.py: cell 5" in n)
    assert "heading naming no exercise" not in note and "the cell tag `skip`" in note


def test_notes_quote_the_first_line_of_code_of_each_cell_they_name():
    assert cell_quote("# a comment\n\n  net = Net()\nprint(net)\n") == "`net = Net()`…"
    assert cell_quote("x = 1") == "`x = 1`"
    assert cell_quote("%%time\nfor builder in (vgg11, vgg16, vgg19, resnet18, resnet34):\n    pass") == (
        "`for builder in (vgg11, vgg16, vgg19,`…")  # cut at a word's end
    assert cell_quote("import torch; import numpy as np  # `np`") == "`import torch;import numpy as np # 'np'`"
    assert cell_quote("# only a comment") == "`# only a comment`"
    _, notes = split(markdown("## Exercise 1"), code("import os; import re\nSEP = os.sep\n"),
                     markdown("## Exercise 2"), code("\n\nPATH = SEP.join(['alpha', 'beta', 'gamma', 'delta'])\n"))
    note = next(n for n in notes if "uses SEP" in n)
    assert "cell 4 (`PATH = SEP.join(['alpha', 'beta',`…) uses SEP, defined only in cell 2 " \
           "(`import os;import re`…, in ex1_shapes.py's cells)" in note
    assert "; " not in note


def test_generated_modules_say_which_notebook_they_come_from(tmp_path):
    path = write_notebook(tmp_path / "alice lab.ipynb", code("A = 1\n", "ex1"))
    notebook_to_modules(path, MODULES, tmp_path / "out")
    assert generated_from(tmp_path / "out" / "ex1_shapes.py") == "alice lab.ipynb"
    (tmp_path / "ex2_lenet.py").write_text("# ex2_lenet.py: my LeNet\n")
    assert generated_from(tmp_path / "ex2_lenet.py") is None
    assert generated_from(tmp_path / "missing.py") is None


def test_a_module_line_is_traced_back_to_its_notebook_cell_and_line(tmp_path):
    path = write_notebook(tmp_path / "lab.ipynb", code("import math\n"), markdown("## Exercise 1"),
                          code("%matplotlib inline\nA = 1\n\nB = math.pi\n"), code("# ex1\nC = 3\n"),
                          code("display(A)\n", "ex1"))
    notebook_to_modules(path, MODULES, tmp_path / "out")
    module = tmp_path / "out" / "ex1_shapes.py"
    lines = module.read_text().split("\n")
    where = {text: notebook_position(module, number) for number, text in enumerate(lines, 1)}
    assert where["import math"] == ("lab.ipynb", "cell 1", 1)  # the shared cell
    assert where["B = math.pi"] == ("lab.ipynb", "cell 3", 4)  # the magic line still counts
    assert where["C = 3"] == ("lab.ipynb", "cell 4", 2)
    assert where["display(A)"] == ("lab.ipynb", "cell 5", 1)
    assert notebook_position(module, 1) is None  # the header the grader wrote
    (tmp_path / "ex2_lenet.py").write_text("x = 1\n# --- lab.ipynb, cell 4 ---\ny = 2\n")
    assert notebook_position(tmp_path / "ex2_lenet.py", 3) is None  # a student's own file: its own lines


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
