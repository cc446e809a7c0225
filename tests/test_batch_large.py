"""A generated batch of 40 submissions (correct in several forms, partly wrong, broken, hostile):
the gradebook has every row, with the right points and reasons, in one run of the warm server."""

from __future__ import annotations

import csv
import json
import shutil
import zipfile

from hostile import HOSTILE, HOSTILE_EXPECTED, add_hostile

from autograder.batch import BatchOptions, grade_batch
from autograder.engines import Engine
from autograder.mutants import load_mutants, materialize

EXERCISES = ("ex1", "ex2")
MODULES = ("ex1_shapes.py", "ex2_lenet.py")


def copy_modules(src, dst, modules=MODULES):
    dst.mkdir(parents=True)
    for name in modules:
        shutil.copyfile(src / name, dst / name)


def notebook(path, sources):
    cells = [{"cell_type": "code", "metadata": {"tags": [tag]}, "source": text, "outputs": [],
              "execution_count": None} for tag, text in sources]
    path.write_text(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}))


def generate(root, repo, manifest):
    """Write the 40 submissions; returns {student: expected (ex1, ex2) points or a phrase}."""
    sol = repo / "solutions"
    expected: dict[str, object] = {}
    for i in range(5):  # correct: the reference, with a different comment each (different hashes)
        copy_modules(sol, root / f"ref-{i}")
        for name in MODULES:
            path = root / f"ref-{i}" / name
            path.write_text(f"# submitted by student {i}\n" + path.read_text())
        expected[f"ref-{i}"] = (20, 20)
    copy_modules(repo / "examples" / "correct", root / "other-style")
    expected["other-style"] = (20, 20)
    with zipfile.ZipFile(root / "zipped.zip", "w") as zf:  # a zip with a top folder, as LMS exports do
        for name in MODULES:
            zf.write(sol / name, f"zipped-main/{name}")
    expected["zipped"] = (20, 20)
    notebook(root / "notebook.ipynb", [("ex1", (sol / "ex1_shapes.py").read_text()),
                                       ("ex2", (sol / "ex2_lenet.py").read_text())])
    expected["notebook"] = (20, 20)

    mutants = [m for m in load_mutants(manifest.mutants) if m.exercise in EXERCISES]
    chosen = [m for m in mutants if m.exercise == "ex1"][::4] + [m for m in mutants if m.exercise == "ex2"][::2]
    for mutant in chosen[:16]:  # partly wrong: one realistic mistake each
        folder = materialize(mutant, sol, root / "tmp-mutants" / mutant.name)
        copy_modules(folder, root / f"mutant-{mutant.name}")
        expected[f"mutant-{mutant.name}"] = ("lost", mutant.exercise)
    shutil.rmtree(root / "tmp-mutants")
    shutil.copytree(repo / "examples" / "partial", root / "partial")
    expected["partial"] = (14, 9)  # its README lists the mistakes

    shutil.copytree(repo / "examples" / "broken", root / "broken")  # syntax error in ex2 + a conftest.py
    expected["broken"] = "SyntaxError"
    copy_modules(repo / "student_template", root / "untouched-template")
    expected["untouched-template"] = (0, 0)
    copy_modules(sol, root / "missing-ex2", modules=("ex1_shapes.py",))
    expected["missing-ex2"] = "has no ex2_lenet.py"
    copy_modules(sol, root / "bad-import")
    path = root / "bad-import" / "ex2_lenet.py"
    path.write_text(path.read_text() + "\nimport helpers_that_were_not_submitted\n")
    expected["bad-import"] = "helpers_that_were_not_submitted"
    (root / "empty").mkdir()
    expected["empty"] = "unreadable"
    (root / "corrupt.zip").write_bytes(b"PK\x03\x04 this is not really a zip")
    expected["corrupt"] = "unreadable"
    (root / "readme-only").mkdir()
    (root / "readme-only" / "README.md").write_text("I did not do it\n")
    expected["readme-only"] = "unreadable"

    add_hostile(root, repo)  # hang, segfault, memory, flood, disk, os._exit, SystemExit, KeyboardInterrupt
    for student in HOSTILE:
        expected[student] = HOSTILE_EXPECTED.get(student, (20, 20))
    return expected


def test_a_batch_of_forty_gets_every_row_right(tmp_path, repo, fast_manifest):
    subs = tmp_path / "subs"
    subs.mkdir()
    expected = generate(subs, repo, fast_manifest)
    assert len(expected) >= 40
    notes: list[str] = []
    options = BatchOptions(tests=repo / "grading_tests", exercises=EXERCISES, jobs=2, engine=Engine.server)
    rows = grade_batch(subs, tmp_path / "out", fast_manifest, options, on_note=notes.append)
    assert any("starting the grading server" in n for n in notes), notes
    assert not any("fresh processes" in n or "warm-up" in n for n in notes), notes
    with open(tmp_path / "out" / "grades.csv", newline="") as fh:
        table = {row["student"]: row for row in csv.DictReader(fh)}
    assert set(table) == set(expected) and len(rows) == len(expected)
    for student, want in expected.items():
        row = table[student]
        if isinstance(want, tuple) and want[0] == "lost":
            other = "ex2" if want[1] == "ex1" else "ex1"
            assert float(row[want[1]]) < 20 and row[other] == "20", (student, row)
            assert row["status"] == "graded", row
        elif isinstance(want, tuple):
            assert (row["ex1"], row["ex2"]) == (str(want[0]), str(want[1])), (student, row)
            assert row["status"] == "graded", row
        elif want == "unreadable":
            assert row["status"] == "unreadable" and row["reason"], row
        else:
            assert row["status"] == "graded" and float(row["ex2"]) < 20 and row["ex1"] == "20", (student, row)
            assert want in row["reason"], (student, row["reason"])
        if row["status"] == "graded":
            assert (tmp_path / "out" / "feedback" / f"{student}.md").is_file()
