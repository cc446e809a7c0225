"""otter-grader: export the hidden suites as otter test files (``grade export otter DIR``).

A course already on otter-grader keeps its workflow (``otter generate``, ``otter run``, otter's
Gradescope integration) and grades this assignment with this engine's hidden suites and isolation:

* ``tests/exN.py``: one otter test file per exercise in otter's exception-based format (the
  ``test_case`` decorator, ``OK_FORMAT = False``), one hidden case per hidden test with that test's
  points. Each case calls :func:`autograder.otter_runtime.check`, which grades the submission's
  exercise modules once through :func:`autograder.runner.grade` and fails with the test's feedback.
* ``cnn_assignment/``: the assignment bundle (manifest, hidden suites, solutions) and
  ``cnn_otter.json``; the engine wheel and ``requirements.txt`` naming it, so otter's image
  installs the engine.
* ``grade_cnn.ipynb``: the file otter executes. Otter grades exactly one notebook or script per
  submission, while this assignment's submission is several exercise modules; this driver notebook
  is a support file, copied next to the student's modules, and runs no student code.

The test ids and points come from grading the reference solutions once while exporting, which
also proves they pass: the export refuses solutions that do not. Tests not graded while exporting
(accuracy without CIFAR-10) are left out and listed.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from autograder.bundle import BundleError, build_engine_wheel, solution_problems, write_bundle
from autograder.manifest import Manifest
from autograder.otter_runtime import BUNDLE_CONFIG, BUNDLE_DIR
from autograder.results import Report, TestResult

__all__ = ["OtterExportError", "OtterUnavailable", "OtterExport", "export_otter", "generate_zip", "DRIVER"]

DRIVER = "grade_cnn.ipynb"
AUTOGRADER_DIR = "/autograder"  # otter's default autograder_dir, where its image unpacks the zip


class OtterExportError(ValueError):
    """The export cannot be written (solutions failing, an existing folder, ...)."""


class OtterUnavailable(RuntimeError):
    """otter-grader is not installed (``pip install 'cnn-autograder[otter]'``)."""


@dataclass(frozen=True)
class OtterExport:
    folder: Path
    exercises: tuple[str, ...]
    tests: int  # otter test cases written
    points: float  # their points together
    left_out: tuple[str, ...]  # tests not graded while exporting, so not exported (with the reason)
    support_files: tuple[str, ...]  # what `otter generate` must be given, relative to folder


_TEST_FILE = '''\
"""otter-grader tests for {exercise} ({title}), written by `grade export otter`: regenerate, do not edit.

Each case asks cnn-autograder for one hidden test's result. The engine grades the submission's
exercise modules with the hidden suite once, the student's code in an isolated worker, and a case
fails with that test's feedback (never the hidden test's source).
"""

from otter.test_files import test_case

OK_FORMAT = False

name = {exercise!r}
points = None  # each case carries its hidden test's points
{cases}'''

_CASE = '''

@test_case(name={name!r}, points={points!r}, hidden=True)
def {function}(env):
    from autograder.otter_runtime import check
    check({exercise!r}, {test_id!r})
'''


def _test_file(exercise: str, title: str, tests: Sequence[TestResult]) -> str:
    cases = "".join(_CASE.format(name=f"{exercise}: {t.name}", points=float(t.max_score), function=f"case_{i}",
                                 exercise=exercise, test_id=t.id) for i, t in enumerate(tests, start=1))
    return _TEST_FILE.format(exercise=exercise, title=title, cases=cases)


def _driver_notebook() -> str:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": [
            "This notebook is what otter-grader executes for a cnn-autograder submission: the student's\n",
            "exercise modules next to it are graded by the test files in `tests/`, which call cnn-autograder.\n",
            "It runs no student code; written by `grade export otter`."]},
        {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
         "source": ["import autograder.otter_runtime  # the engine is installed; grading happens in the tests"]},
    ]
    document = {"cells": cells, "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"}}, "nbformat": 4, "nbformat_minor": 4}
    return json.dumps(document, indent=1) + "\n"


_README = """\
# otter-grader export of {title}

Written by `grade export otter`. The files here make an otter-grader autograder that grades the
hidden suites of {exercises} ({points:g} points in {tests} test cases) with cnn-autograder: the
student's code runs in cnn-autograder's isolated worker, never in otter's kernel.

Build the autograder zip (in this folder; needs `pip install 'cnn-autograder[otter]'`):

    otter generate -t tests -r requirements.txt --python-version {python} {files}

or let `grade export otter DIR --zip` run that for you. Grade one submission without a container:

    otter run -a autograder.zip submission.zip

A submission is a zip of the exercise modules ({modules}), at its top or one folder down (Gradescope
puts uploaded files in the submission folder the same way). Upload `autograder.zip` to a Gradescope
programming assignment as with any otter autograder. Every case is hidden (these are the hidden
suites): students see per-exercise results only when `otter_config.json` sets `"show_hidden": true`
(then after grades are published), and never a hidden test's source.

Otter executes `{driver}` (it grades one notebook or script per submission; this one runs no
student code) and then the test files, in the submission folder: a submission that also holds a
notebook of its own is refused by otter ("more than one .ipynb file"), and files there can shadow
modules otter itself imports. Where that matters, use `grade export gradescope`, whose
run_autograder imports nothing from the submission folder.

CIFAR-10 accuracy tests are exported only when they were graded while exporting (`grade export otter
DIR --data-dir CIFAR10 --profile cpu`); otter's grading image then needs CIFAR-10 and the
environment variable `CIFAR10_DIR` naming it, or they fail as "not graded here".

`cnn_assignment/` holds the hidden suites and the solutions: keep this folder and the zip away
from students.{left_out}
"""


def _support_files(folder: Path) -> tuple[str, ...]:
    return (BUNDLE_DIR, DRIVER, *sorted(p.name for p in folder.glob("*.whl")))


def export_otter(manifest: Manifest, folder: Path, exercises: Sequence[str] | None = None, *,
                 overwrite: bool = False, profile: str = "auto", data_dir: Path | None = None,
                 report: Report | None = None) -> OtterExport:
    """Write the otter export for ``exercises`` (default: all) into ``folder``. ``report`` is the
    solutions' hidden-suite report when the caller already has one (it is graded here otherwise)."""
    from autograder.runner import grade

    chosen = tuple(exercises) if exercises else manifest.names
    unknown = [e for e in chosen if e not in manifest.names]
    if unknown:
        raise OtterExportError(f"unknown exercise {', '.join(unknown)}; the manifest has {', '.join(manifest.names)}")
    if manifest.solutions is None or manifest.hidden_tests is None:
        raise OtterExportError(f"{manifest.path}: [paths] needs solutions and hidden_tests for an otter export")
    folder = Path(folder)
    if folder.exists() and any(folder.iterdir()):
        if not (folder / BUNDLE_DIR / BUNDLE_CONFIG).is_file():  # --force never deletes anything else
            raise OtterExportError(f"{folder} exists, is not empty and is not an earlier otter export: "
                                   f"choose a new or empty folder")
        if not overwrite:
            raise OtterExportError(f"{folder} holds an earlier otter export (pass --force to replace it)")
        shutil.rmtree(folder)
    if report is None:
        report = grade(manifest.solutions, manifest.hidden_tests, manifest, chosen, profile=profile, data_dir=data_dir)
    if problems := solution_problems(report, chosen):
        raise OtterExportError("the reference solutions do not pass the hidden suites, so there is nothing "
                               "sound to export: " + "; ".join(problems[:10]))
    try:
        bundle = write_bundle(manifest, folder / BUNDLE_DIR)
        wheel = build_engine_wheel(folder)
    except BundleError as exc:
        raise OtterExportError(str(exc)) from None
    (bundle.root / BUNDLE_CONFIG).write_text(json.dumps(
        {"manifest": str(bundle.manifest), "exercises": list(chosen), "profile": profile}, indent=2) + "\n")
    (folder / "tests").mkdir()
    graded = [t for t in report.tests if t.graded]
    for ex in chosen:
        tests = [t for t in graded if t.exercise == ex]
        if tests:
            (folder / "tests" / f"{ex}.py").write_text(_test_file(ex, manifest.exercise(ex).title, tests))
    (folder / DRIVER).write_text(_driver_notebook())
    (folder / "requirements.txt").write_text(
        f"# the grading engine, from the wheel otter copies into its source folder\n"
        f"{AUTOGRADER_DIR}/source/files/{wheel.name}\n")
    left_out = tuple(f"{t.exercise} {t.name} ({t.feedback})" for t in report.tests if not t.graded)
    files = _support_files(folder)
    python = f"{sys.version_info.major}.{sys.version_info.minor}"
    (folder / "README.md").write_text(_README.format(
        title=manifest.title, exercises=", ".join(chosen), points=sum(t.max_score for t in graded),
        tests=len(graded), python=python, files=" ".join(files), modules=", ".join(manifest.modules), driver=DRIVER,
        left_out="".join(f"\n\nNot exported (not graded while exporting): {x}" for x in left_out)))
    return OtterExport(folder, chosen, len(graded), sum(t.max_score for t in graded), left_out, files)


def _otter_command() -> list[str]:
    if importlib.util.find_spec("otter") is None:
        raise OtterUnavailable("otter-grader is not installed: pip install 'cnn-autograder[otter]'")
    return [sys.executable, "-m", "otter"]


def generate_zip(folder: Path, output: str = "autograder.zip", python_version: str | None = None,
                 timeout: float = 600) -> Path:
    """Run ``otter generate`` in an exported ``folder``; returns the autograder zip it wrote."""
    folder = Path(folder)
    if not (folder / "tests").is_dir() or not (folder / BUNDLE_DIR).is_dir():
        raise OtterExportError(f"{folder} is not an otter export (run `grade export otter {folder}` first)")
    python_version = python_version or f"{sys.version_info.major}.{sys.version_info.minor}"
    command = [*_otter_command(), "generate", "-t", "tests", "-o", output, "-r", "requirements.txt",
               "--no-config", "--no-environment", "--python-version", python_version, *_support_files(folder)]
    proc = subprocess.run(command, cwd=folder, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise OtterExportError(f"otter generate failed (exit code {proc.returncode}): "
                               f"{(proc.stderr or proc.stdout).strip()[-1500:]}")
    return folder / output
