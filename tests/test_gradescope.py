"""`grade export gradescope`: the zip, and its run_autograder run for real against a fake /autograder.

Each test unzips the export into tmp/autograder/source, puts a submission in tmp/autograder/submission
and runs run_autograder as Gradescope would (AUTOGRADER_ROOT points it at the fake tree; PYTHON at
this interpreter, which already has the engine, so setup.sh's install is skipped).
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from autograder.bundle import BundleError
from autograder.cli import app
from autograder.gradescope import CONFIG_NAME, export_gradescope
from autograder.gradescope_results import (GRADER_ERROR_TEST, STUDENT_GRADER_ERROR_NOTE, GsVisibility, rejected_json,
                                           results_json)
from autograder.mutants import load_mutants, materialize
from autograder.results import Outcome, Report, TestResult, Visibility
from autograder.runner import grade

ALL_POINTS_WITHOUT_DATA = 120  # ex1..ex6 are worth 140; ex5's 20 accuracy points need CIFAR-10


@pytest.fixture(scope="module")
def exports(manifest, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("exports")
    every = export_gradescope(manifest, folder / "all.zip")  # grades the solutions once for all three
    assert every.graded_points == ALL_POINTS_WITHOUT_DATA and every.points == 140
    report = grade(manifest.solutions, manifest.hidden_tests, manifest, ["ex1", "ex2"], profile="cpu")
    return {"all": every.path,
            "ex1-ex2": export_gradescope(manifest, folder / "ex1-ex2.zip", ["ex1", "ex2"], report=report).path,
            "ex1": export_gradescope(manifest, folder / "ex1.zip", ["ex1"], report=report).path}


def autograder_tree(tmp_path: Path, export: Path, files: dict[str, str]) -> Path:
    """tmp/autograder with source/ (the unzipped export), submission/ (``files``) and run_autograder."""
    root = tmp_path / "autograder"
    with zipfile.ZipFile(export) as zf:
        zf.extractall(root / "source")
    for name, text in files.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / name).write_text(text)
    (root / "submission").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(root / "source" / "run_autograder", root / "run_autograder")  # as Gradescope does
    os.chmod(root / "run_autograder", 0o755)
    return root


def run_autograder(root: Path) -> tuple[int, dict, str]:
    env = {k: v for k, v in os.environ.items() if k != "CIFAR10_DIR"}
    env.update(AUTOGRADER_ROOT=str(root), PYTHON=sys.executable)
    proc = subprocess.run([str(root / "run_autograder")], cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    results = root / "results" / "results.json"
    assert results.is_file(), proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.returncode, json.loads(results.read_text()), proc.stdout


def solution_files(repo: Path, prefix: str = "") -> dict[str, str]:
    return {prefix + p.name: p.read_text() for p in (repo / "solutions").glob("*.py")}


def student_facing(results: dict) -> list[str]:
    """Every text a student can ever see: the top-level output and each non-hidden test's output."""
    return [results.get("output", "")] + [t.get("output", "") for t in results["tests"] if t["visibility"] != "hidden"]


def hidden_code_lines(repo: Path) -> set[str]:
    """First lines of the hidden suites' statements (code, not the messages they format)."""
    found = set()
    for path in (repo / "grading_tests").glob("*.py"):
        source = path.read_text()
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.stmt) and not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
                line = lines[node.lineno - 1].strip()
                if len(line) >= 20 and not line.startswith(("'", '"', "f'", 'f"', "#")):
                    found.add(line)
    return found


def assert_no_hidden_source(results: dict, repo: Path) -> None:
    texts = student_facing(results)
    code = hidden_code_lines(repo)
    assert len(code) > 100
    for text in texts:
        assert "grading_tests" not in text and "def test_" not in text and "solutions/" not in text
        leaked = [line for line in code if line in text]
        assert not leaked, leaked[:3]


def test_the_zip_holds_the_scripts_the_engine_wheel_and_the_hidden_suites(exports):
    with zipfile.ZipFile(exports["ex1-ex2"]) as zf:
        names = zf.namelist()
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
        config = json.loads(zf.read(CONFIG_NAME))
        setup = zf.read("setup.sh").decode()
        run = zf.read("run_autograder").decode()
    wheel = [n for n in names if n.endswith(".whl")]
    assert {"setup.sh", "run_autograder", "assignments/assignment.toml", "grading_tests/test_ex2_lenet.py",
            "solutions/ex2_lenet.py"} <= set(names) and len(wheel) == 1
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert modes["setup.sh"] & stat.S_IXUSR and modes["run_autograder"] & stat.S_IXUSR
    assert config["exercises"] == ["ex1", "ex2"] and config["hidden_visibility"] == "after_published"
    assert wheel[0] in setup and "AUTOGRADER_ROOT" in setup and "AUTOGRADER_ROOT" in run and "PYTHON" in run
    # the image gets the torch the solutions were graded with
    assert f"torch=={version('torch').split('+')[0]} torchvision=={version('torchvision').split('+')[0]}" in setup
    assert setup.index("torch==") < setup.index(wheel[0])  # before the wheel, whose torch>=2.2 it satisfies
    for script in (setup, run):
        proc = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_the_engine_wheel_installs_with_pip_and_holds_the_engine_only(exports, tmp_path):
    with zipfile.ZipFile(exports["ex1"]) as zf:
        (wheel,) = [n for n in zf.namelist() if n.endswith(".whl")]
        zf.extract(wheel, tmp_path)
        inner = zipfile.ZipFile(tmp_path / wheel).namelist()
    assert "autograder/gradescope.py" in inner and "autograder/runner.py" in inner
    assert all(n.startswith(("autograder/", "cnn_autograder-")) for n in inner)
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
                           "--target", str(tmp_path / "site"), str(tmp_path / wheel)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "site" / "bin" / "grade").is_file()
    probe = subprocess.run([sys.executable, "-c", "import autograder.gradescope as g; print(g.__file__)"],
                           env={**os.environ, "PYTHONPATH": str(tmp_path / "site")}, cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
    assert probe.stdout.strip().startswith(str(tmp_path / "site")), probe.stdout + probe.stderr


def test_the_solutions_get_full_marks(exports, repo, tmp_path):
    # uploaded as a folder (lab/), as students often zip their work: found one folder down
    root = autograder_tree(tmp_path, exports["all"], solution_files(repo, "lab/"))
    code, results, stdout = run_autograder(root)
    assert code == 0, stdout
    graded = [t for t in results["tests"] if "status" in t]
    assert results["score"] == sum(t["max_score"] for t in graded) == ALL_POINTS_WITHOUT_DATA
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in graded)
    assert all(t["visibility"] == "after_published" for t in results["tests"])
    assert {t["tags"][0] for t in graded} == {"ex1", "ex2", "ex3", "ex4", "ex5", "ex6"}
    not_graded = [t for t in results["tests"] if "status" not in t]  # accuracy: no CIFAR-10, no GPU here
    assert not_graded and all(t["max_score"] == 0 and t["output"].startswith("Not graded here") for t in not_graded)
    assert any("CIFAR-10" in t["output"] for t in not_graded)
    assert isinstance(results["execution_time"], int) and results["extra_data"]["grader_errors"] == []
    assert "lab/" in results["output"] and f"{ALL_POINTS_WITHOUT_DATA}/{ALL_POINTS_WITHOUT_DATA}" in results["output"]
    assert f"score: {ALL_POINTS_WITHOUT_DATA} of {ALL_POINTS_WITHOUT_DATA}" in stdout
    assert results["visibility"] == "after_published" and results["extra_data"]["sandbox"]
    assert f"sandbox: {results['extra_data']['sandbox']}" in stdout  # the instructor sees how it ran


def test_a_mutant_gets_partial_credit_with_failed_entries_and_no_hidden_source(exports, manifest, repo, tmp_path):
    mutant = next(m for m in load_mutants(manifest.mutants) if m.name == "softmax_output")
    folder = materialize(mutant, manifest.solutions, tmp_path / "mutant")
    root = autograder_tree(tmp_path, exports["ex1-ex2"], {p.name: p.read_text() for p in folder.glob("*.py")})
    code, results, _ = run_autograder(root)
    assert code == 0
    exercises = results["extra_data"]["exercises"]
    assert exercises["ex1"] == {"score": 20.0, "max_score": 20.0}
    assert 0 < exercises["ex2"]["score"] < 20 and results["score"] == 20 + exercises["ex2"]["score"]
    failed = [t for t in results["tests"] if t.get("status") == "failed"]
    assert failed and all(t["name"].startswith("ex2: ") and t["score"] == 0 for t in failed)
    assert any("softmax" in t["output"] for t in failed)
    assert_no_hidden_source(results, repo)


def test_a_syntax_error_scores_zero_with_a_clear_output(exports, repo, tmp_path):
    broken = "def conv2d_output_size(size, kernel_size:\n    return size\n"
    root = autograder_tree(tmp_path, exports["ex1-ex2"], {"ex1_shapes.py": broken, "ex2_lenet.py": "class Net(\n"})
    code, results, _ = run_autograder(root)
    assert code == 0 and results["score"] == 0
    assert all(t["status"] == "failed" and "SyntaxError" in t["output"] for t in results["tests"])
    assert "ex1: every test failed the same way" in results["output"] and "SyntaxError" in results["output"]
    assert_no_hidden_source(results, repo)


def test_a_grader_error_is_flagged_to_the_instructor_not_a_silent_zero(exports, repo, tmp_path):
    root = autograder_tree(tmp_path, exports["ex1"], solution_files(repo))
    toml = root / "source" / "assignments" / "assignment.toml"
    toml.write_text(toml.read_text().replace("points = 20", "points = 21", 1))  # the suite says 20
    code, results, stdout = run_autograder(root)
    assert code == 3
    (flag,) = [t for t in results["tests"] if t["name"] == GRADER_ERROR_TEST]
    assert flag["visibility"] == "hidden" and "manifest says 21" in flag["output"]
    assert STUDENT_GRADER_ERROR_NOTE in results["output"] and results["extra_data"]["grader_errors"]
    assert "GRADER ERROR" in stdout


def test_a_broken_image_still_writes_flagged_results(exports, tmp_path):
    root = autograder_tree(tmp_path, exports["ex1"], {})
    (root / "source" / CONFIG_NAME).unlink()
    code, results, _ = run_autograder(root)
    assert code == 3 and results["score"] == 0
    assert "not a grade" in results["output"] and results["tests"][0]["visibility"] == "hidden"
    assert CONFIG_NAME in results["tests"][0]["output"]


def test_results_json_lists_not_graded_tests_without_counting_them():
    tests = (TestResult("ex5", "a", "test_a", Outcome.PASSED, 2, 2, visibility=Visibility.HIDDEN),
             TestResult("ex5", "b", "test_b", Outcome.TIMEOUT, 0, 3, "ran past 20 s", visibility=Visibility.HIDDEN),
             TestResult("ex5", "c", "test_c", Outcome.NOT_GRADED, 0, 10, "no GPU", visibility=Visibility.HIDDEN))
    doc = results_json(Report(("ex5",), tests), title="T", execution_time=1.4,
                       hidden_visibility=GsVisibility.after_due_date)
    a, b, c = doc["tests"]
    assert (a["status"], b["status"], "status" in c) == ("passed", "failed", False)
    assert b["output"] == "ran past 20 s" and c["max_score"] == 0 and "no GPU" in c["output"]
    assert {t["visibility"] for t in doc["tests"]} == {"after_due_date"}
    assert doc["visibility"] == "after_due_date"  # the summary, which quotes hidden scores, goes with them
    assert doc["score"] == 2 and doc["extra_data"]["max_score"] == 5 and doc["execution_time"] == 1
    assert doc["output"].startswith("T: 2/5 points")
    rejected = rejected_json("lab.ipynb is not a notebook", execution_time=0.2)
    assert rejected["score"] == 0 and "could not be graded: lab.ipynb" in rejected["output"]
    assert rejected["extra_data"]["grader_errors"] == []


def test_cli_export_gradescope(manifest, tmp_path):
    runner = CliRunner()
    out = tmp_path / "ag.zip"
    args = ["export", "gradescope", str(out), "--manifest", str(manifest.path), "-e", "ex1"]
    ok = runner.invoke(app, args)
    assert ok.exit_code == 0, ok.output
    assert out.is_file() and "keep it away from students" in ok.output
    assert "set the Gradescope assignment's autograder points to 20" in ok.output  # ex1: everything runs there
    assert runner.invoke(app, args).exit_code == 2  # exists, no --force
    assert runner.invoke(app, args + ["--force"]).exit_code == 0
    assert runner.invoke(app, args + ["--force", "-e", "ex9"]).exit_code == 2
    assert runner.invoke(app, args + ["--force", "--visibility", "sometimes"]).exit_code == 2
    assert runner.invoke(app, ["export", "gradescope", str(tmp_path / "x.tar"), "--manifest",
                               str(manifest.path)]).exit_code == 2


def test_the_export_grades_the_solutions_and_says_which_total_to_set(manifest, tmp_path):
    report = grade(manifest.solutions, manifest.hidden_tests, manifest, ["ex5"], profile="cpu")
    plain = export_gradescope(manifest, tmp_path / "a.zip", ["ex5"], report=report)
    accuracy = [t for t in report.tests if not t.graded]
    assert plain.points == 40 and plain.graded_points == report.max_score == 40 - sum(t.max_score for t in accuracy)
    assert len(plain.not_graded) == len(accuracy) and any("[cpu_lenet] (CIFAR-10 not available" in x
                                                          for x in plain.not_graded)
    with_data = export_gradescope(manifest, tmp_path / "b.zip", ["ex5"], report=report, cifar10=True)
    cpu = [t for t in accuracy if "[cpu_" in t.name]
    assert cpu and with_data.graded_points == plain.graded_points + sum(t.max_score for t in cpu)
    assert with_data.not_graded and all("gpu profile" in x for x in with_data.not_graded)
    broken = Report(("ex5",), (TestResult("ex5", "t", "test_t", Outcome.FAILED, 0, 1, "wrong"),))
    with pytest.raises(BundleError, match="the reference solutions do not pass the hidden suites"):
        export_gradescope(manifest, tmp_path / "c.zip", ["ex5"], report=broken)
    assert not (tmp_path / "c.zip").exists()
