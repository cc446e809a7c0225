"""The student repo's GitHub Actions workflow: its YAML, the commands it calls, and its grading step
run here for real (on the solutions: every public point; on the template: none), with each report
it writes checked against the contract of the platform that reads it."""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import typer.main
import yaml

from autograder.cli import app
from autograder.reporters import Format
from autograder.workflow import GRADE_STEP_ID, WORKFLOW_PATH, render_workflow

REPORTER = "classroom-resources/autograding-grading-reporter@v1"
# Classroom 50's result/v1 (foundation50/classroom50 schemas/result-v1.schema.json)
CLASSROOM50_KEYS = {"schema", "classroom", "assignment", "assignment_type", "owner", "submission", "commit",
                    "release", "review", "datetime", "score", "max-score", "tests"}
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$")


@pytest.fixture(scope="module")
def workflow(repo) -> dict:
    return yaml.safe_load((repo / "student_template" / WORKFLOW_PATH).read_text())


def steps(workflow: dict) -> list[dict]:
    (job,) = workflow["jobs"].values()
    return job["steps"]


def grade_step(workflow: dict) -> dict:
    (step,) = [s for s in steps(workflow) if s.get("id") == GRADE_STEP_ID]
    return step


def test_the_workflow_grades_every_push_and_reports_per_exercise(workflow, manifest, repo):
    assert (repo / "student_template" / WORKFLOW_PATH).read_text() == render_workflow(manifest)
    assert "push" in workflow["on"]
    uses = [s.get("uses", "").split("@")[0] for s in steps(workflow)]
    assert uses[:2] == ["actions/checkout", "actions/setup-python"]
    assert any("pip install -r requirements.txt" in s.get("run", "") for s in steps(workflow))
    (reporter,) = [s for s in steps(workflow) if s.get("uses") == REPORTER]
    runners = reporter["with"]["runners"].split(",")
    assert runners == list(manifest.names)
    # the reporter reads runner r from the variable r.toUpperCase() + "_RESULTS"
    assert reporter["env"] == {f"{r.upper()}_RESULTS": f"${{{{ steps.{GRADE_STEP_ID}.outputs.{r} }}}}" for r in runners}
    assert steps(workflow).index(grade_step(workflow)) < steps(workflow).index(reporter)


def grade_commands(script: str) -> list[list[str]]:
    lines = script.replace("\\\n", " ").splitlines()
    commands = []
    for line in lines:
        words = shlex.split(line.split("||")[0], comments=True)
        if words and words[0] == "grade":
            commands.append(words[1:])
    return commands


def test_the_steps_call_commands_and_options_the_cli_really_has(workflow):
    cli = typer.main.get_command(app)
    commands = [c for s in steps(workflow) for c in grade_commands(s.get("run", ""))]
    assert commands, "the workflow never calls grade"
    for words in commands:
        command = cli.commands[words[0]]
        options = {o for p in command.params for o in p.opts}
        for i, word in enumerate(words[1:], 1):
            if word.startswith("-") and word != "-":
                assert word in options, f"grade {words[0]} has no option {word}"
            if words[i - 1] in ("--format", "-f"):
                assert word in {f.value for f in Format}


def run_grade_step(workflow: dict, student_repo: Path, tmp_path: Path) -> dict:
    """Run the grading step's script as GitHub Actions would (bash -e, the step's files)."""
    summary, outputs = tmp_path / "step_summary.md", tmp_path / "github_output"
    summary.write_text("# before\n")
    outputs.write_text("")
    env = {**os.environ, "GITHUB_STEP_SUMMARY": str(summary), "GITHUB_OUTPUT": str(outputs),
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    for key in ("CIFAR10_DIR", "CLASSROOM", "ASSIGNMENT", "GITHUB_REPOSITORY", "GITHUB_SHA"):
        env.pop(key, None)
    proc = subprocess.run(["bash", "-e", "-c", grade_step(workflow)["run"]], cwd=student_repo, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    runners = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    return {"log": proc.stdout, "summary": summary.read_text(), "runners": runners,
            "junit": ET.parse(student_repo / "grading" / "junit.xml").getroot(),
            "result": json.loads((student_repo / "grading" / "result.json").read_text())}


@pytest.fixture(scope="module")
def graded(workflow, repo, tmp_path_factory) -> dict[str, dict]:
    runs = {}
    for name in ("solutions", "template"):
        student_repo = tmp_path_factory.mktemp(name) / "repo"
        shutil.copytree(repo / "student_template", student_repo, ignore=shutil.ignore_patterns("__pycache__"))
        if name == "solutions":
            for module in (repo / "solutions").glob("ex*.py"):
                shutil.copyfile(module, student_repo / module.name)
        runs[name] = run_grade_step(workflow, student_repo, student_repo.parent)
    return runs


def check_classroom50(result: dict) -> None:
    """The rules of Classroom 50's runner.py validate_result and result-v1.schema.json."""
    assert CLASSROOM50_KEYS <= set(result) <= CLASSROOM50_KEYS | {"graded_at", "submitted_by"}
    assert result["schema"] == "classroom50/result/v1" and result["assignment_type"] in ("individual", "group")
    assert result["submission"].startswith("submit/") and STAMP.match(result["datetime"])
    assert all(isinstance(result[k], str) and result[k] for k in ("classroom", "assignment", "owner", "commit",
                                                                    "release", "review"))
    assert all(type(result[k]) is int and result[k] >= 0 for k in ("score", "max-score"))
    assert result["score"] <= result["max-score"]
    for test in result["tests"]:
        assert isinstance(test["test-name"], str) and test["test-name"] and type(test["passed"]) is bool
        assert type(test["score"]) is int and type(test["max-score"]) is int and 0 <= test["score"] <= test["max-score"]


def decode_runners(runners: dict[str, str]) -> dict[str, dict]:
    decoded = {name: json.loads(base64.b64decode(value, validate=True)) for name, value in runners.items()}
    for result in decoded.values():
        assert result["version"] == 1 and result["status"] in ("pass", "fail", "error")
        assert isinstance(result["max_score"], (int, float))
        for test in result["tests"]:
            assert {"name", "status", "score", "message", "test_code", "filename", "line_no", "duration"} <= set(test)
            assert test["status"] in ("pass", "fail", "error")
    return decoded


def junit_counts(root: ET.Element) -> dict[str, int]:
    cases = root.findall("./testsuite/testcase")
    counted = {k: int(root.get(k)) for k in ("tests", "failures", "errors", "skipped")}
    assert counted == {"tests": len(cases), "failures": len(root.findall(".//testcase/failure")),
                       "errors": len(root.findall(".//testcase/error")),
                       "skipped": len(root.findall(".//testcase/skipped"))}
    return counted


def test_on_the_solutions_every_report_gives_every_public_point(graded, manifest):
    run = graded["solutions"]
    assert "Total: 30/30" in run["log"]
    counts = junit_counts(run["junit"])
    assert counts["tests"] >= len(manifest.names) and counts["failures"] == counts["errors"] == 0
    assert [s.get("name") for s in run["junit"].findall("testsuite")] == list(manifest.names)
    runners = decode_runners(run["runners"])
    assert list(runners) == list(manifest.names)
    assert all(r["status"] == "pass" and sum(t["score"] for t in r["tests"]) == r["max_score"] > 0
               for r in runners.values())
    result = run["result"]
    check_classroom50(result)
    assert result["score"] == result["max-score"] == 30 and all(t["passed"] for t in result["tests"])
    # classroom50 lists the graded tests; JUnit also has the ones not graded here (accuracy without data)
    assert result["assignment"] == manifest.name and len(result["tests"]) == counts["tests"] - counts["skipped"]
    assert run["summary"].startswith("# before\n")  # appended, not overwritten
    assert "### Autograding: 30/30 points (public tests)" in run["summary"]
    for name in manifest.names:
        assert f"| {name} | 5/5 ✅ |" in run["summary"]


def test_on_the_template_every_report_gives_zero(graded, manifest):
    run = graded["template"]
    assert "Total: 0/30" in run["log"]
    counts = junit_counts(run["junit"])
    assert counts["failures"] == counts["tests"] - counts["skipped"] > 0 and counts["errors"] == 0
    assert {f.get("type") for f in run["junit"].iter("failure")} == {"not_implemented"}
    runners = decode_runners(run["runners"])
    assert all(r["status"] == "fail" and r["max_score"] > 0 and all(t["score"] == 0 for t in r["tests"])
               and all("not implemented" in t["message"] for t in r["tests"]) for r in runners.values())
    result = run["result"]
    check_classroom50(result)
    assert result["score"] == 0 and result["max-score"] == 30 and not any(t["passed"] for t in result["tests"])
    assert "### Autograding: 0/30 points (public tests)" in run["summary"] and "| ex1 | 0/5 |" in run["summary"]
