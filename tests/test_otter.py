"""`grade export otter`: otter-grader test files that grade with the hidden suites, run for real with
`otter generate` and `otter run` on the solutions (full marks) and on a mutant (partial), with
otter's score and this engine's side by side. Skipped when otter-grader is not installed
(`pip install 'cnn-autograder[otter]'`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

import autograder.otter_runtime as runtime
import autograder.runner
from autograder.cli import app
from autograder.mutants import load_mutants, materialize
from autograder.otter_export import DRIVER, OtterExportError, export_otter, generate_zip
from autograder.results import Outcome, Report, TestResult, Visibility
from autograder.runner import grade

pytest.importorskip("otter", reason="otter-grader is not installed: pip install 'cnn-autograder[otter]'")
pytest.importorskip("ipykernel", reason="otter run needs otter-grader[grading] (ipykernel)")

EXERCISES = ("ex1", "ex2")


@pytest.fixture(scope="module")
def export(manifest, tmp_path_factory):
    folder = tmp_path_factory.mktemp("otter") / "export"
    result = export_otter(manifest, folder, EXERCISES)
    return result, generate_zip(folder)


def zip_modules(folder: Path, into: Path) -> Path:
    with zipfile.ZipFile(into, "w") as zf:
        for path in sorted(folder.glob("*.py")):
            zf.write(path, path.name)
    return into


def otter_run(autograder_zip: Path, submission: Path, out: Path) -> tuple[float, float, dict]:
    """``otter run`` on one submission: otter's score, the points possible, its results.json."""
    out.mkdir()
    proc = subprocess.run([sys.executable, "-m", "otter", "run", "--no-logo", "-a", str(autograder_zip),
                           "-o", str(out), str(submission)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    files = [t for t in results["tests"] if "max_score" in t]
    assert [t["name"] for t in files] == list(EXERCISES)
    return sum(t["score"] for t in files), sum(t["max_score"] for t in files), results


def test_the_export_is_otter_test_case_files_otter_loads(export, manifest):
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import ExceptionTestFile, create_test_file

    result, autograder_zip = export
    assert result.exercises == EXERCISES and result.points == 40 and not result.left_out
    for ex in EXERCISES:
        path = result.folder / "tests" / f"{ex}.py"
        assert "OK_FORMAT = False" in path.read_text() and "@test_case(" in path.read_text()
        loaded = create_test_file(str(path), NBMetadataConfig())
        assert isinstance(loaded, ExceptionTestFile) and loaded.name == ex
        assert sum(tc.points for tc in loaded.test_cases) == manifest.exercise(ex).points
        assert all(tc.hidden for tc in loaded.test_cases)
    names = zipfile.ZipFile(autograder_zip).namelist()
    assert {"tests/ex1.py", "tests/ex2.py", f"files/{DRIVER}", "files/cnn_assignment/cnn_otter.json",
            "files/cnn_assignment/grading_tests/test_ex2_lenet.py"} <= set(names)
    assert any(n.startswith("files/cnn_autograder-") and n.endswith(".whl") for n in names)


def test_otter_run_gives_the_same_scores_as_the_engine(export, manifest, tmp_path):
    result, autograder_zip = export
    mutant = next(m for m in load_mutants(manifest.mutants) if m.name == "softmax_output")
    mutant_folder = materialize(mutant, manifest.solutions, tmp_path / "mutant")

    solution_otter, possible, _ = otter_run(autograder_zip, zip_modules(manifest.solutions, tmp_path / "sol.zip"),
                                            tmp_path / "sol-out")
    mutant_otter, _, mutant_results = otter_run(autograder_zip, zip_modules(mutant_folder, tmp_path / "mut.zip"),
                                                tmp_path / "mut-out")
    ours = grade(mutant_folder, manifest.hidden_tests, manifest, EXERCISES)
    rows = [("solutions", solution_otter, result.points), (f"mutant {mutant.name}", mutant_otter, ours.score)]
    print("\nsubmission              otter   cnn-autograder   (of %g)" % possible)
    for name, otter_score, our_score in rows:
        print(f"{name:<22} {otter_score:>6g}   {our_score:>6g}")

    assert possible == 40 and solution_otter == 40 == result.points  # the export graded the solutions
    assert 0 < mutant_otter < 40 and mutant_otter == ours.score
    ex2 = next(t for t in mutant_results["tests"] if t["name"] == "ex2")
    assert "softmax" in ex2["output"] and "Test case failed" in ex2["output"]
    assert "def test_" not in ex2["output"] and "grading_tests" not in ex2["output"]


def test_the_export_refuses_an_existing_folder_and_unknown_exercises(manifest, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("x")
    with pytest.raises(OtterExportError, match="not an earlier otter export"):
        export_otter(manifest, tmp_path / "out", EXERCISES, overwrite=True)  # --force deletes no stranger's folder
    with pytest.raises(OtterExportError, match="unknown exercise ex9"):
        export_otter(manifest, tmp_path / "new", ["ex9"])
    runner = CliRunner()
    outcome = runner.invoke(app, ["export", "otter", str(tmp_path / "out"), "--manifest", str(manifest.path),
                                  "--force"])
    assert outcome.exit_code == 2 and (tmp_path / "out" / "keep.txt").is_file()
    with pytest.raises(OtterExportError, match="not an otter export"):
        generate_zip(tmp_path / "out")


def test_force_replaces_an_earlier_export_and_failing_solutions_are_refused(manifest, tmp_path):
    passed = TestResult("ex1", "test_ex1_shapes.py::test_a", "test_a", Outcome.PASSED, 20, 20,
                        visibility=Visibility.HIDDEN)
    report = Report(("ex1",), (passed,))
    export_otter(manifest, tmp_path / "out", ["ex1"], report=report)
    with pytest.raises(OtterExportError, match="--force"):
        export_otter(manifest, tmp_path / "out", ["ex1"], report=report)
    again = export_otter(manifest, tmp_path / "out", ["ex1"], report=report, overwrite=True)
    assert again.tests == 1 and "test_ex1_shapes.py::test_a" in (tmp_path / "out" / "tests" / "ex1.py").read_text()
    failed = Report(("ex1",), (TestResult("ex1", "t", "t", Outcome.FAILED, 0, 20, "wrong"),))
    with pytest.raises(OtterExportError, match="solutions do not pass"):
        export_otter(manifest, tmp_path / "new", ["ex1"], report=failed)


def test_the_otter_runtime_hands_cifar10_dir_to_the_accuracy_tests(export, tmp_path, monkeypatch):
    result, _ = export
    root = tmp_path / "autograder"  # otter's layout: <root>/source/files/cnn_assignment, <root>/submission
    shutil.copytree(result.folder / "cnn_assignment", root / "source" / "files" / "cnn_assignment")
    (root / "submission").mkdir()
    (tmp_path / "cifar").mkdir()
    seen = {}
    monkeypatch.setattr(autograder.runner, "grade", lambda *a, **kw: seen.update(kw) or Report(("ex1",), ()))
    monkeypatch.setattr(runtime, "_reports", {})
    monkeypatch.setenv("CIFAR10_DIR", str(tmp_path / "cifar"))
    runtime.report_for(root / "submission")
    assert seen["data_dir"] == tmp_path / "cifar" and seen["profile"] == "auto"
