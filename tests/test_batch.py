"""Batch grading: a gradebook row per submission, hostile ones isolated, resumable after a kill."""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest

from hostile import HOSTILE_EXPECTED, add_hostile, make_base

from autograder.batch import BatchOptions, RowStatus, grade_batch

EXERCISES = ("ex1", "ex2")


def rows_of(out):
    with open(out / "grades.csv", newline="") as fh:
        return {row["student"]: row for row in csv.DictReader(fh)}


def lines_of(out):
    return {line.split(",", 1)[0]: line for line in (out / "grades.csv").read_text().splitlines()[1:]}


@pytest.fixture
def options(repo):
    return BatchOptions(tests=repo / "grading_tests", exercises=EXERCISES, jobs=2)


def test_hostile_submissions_get_their_own_rows_and_leave_the_others_identical(tmp_path, repo, fast_manifest, options):
    clean, hostile = tmp_path / "clean", tmp_path / "hostile"
    make_base(clean, repo)
    make_base(hostile, repo)
    add_hostile(hostile, repo)
    grade_batch(clean, tmp_path / "out-clean", fast_manifest, options)
    start = time.monotonic()
    rows = grade_batch(hostile, tmp_path / "out-hostile", fast_manifest, options)
    assert time.monotonic() - start < 600
    baseline, lines = lines_of(tmp_path / "out-clean"), lines_of(tmp_path / "out-hostile")
    for student in ("ref", "partial", "broken", "nothing"):
        assert lines[student] == baseline[student]  # byte-identical gradebook rows
    table = rows_of(tmp_path / "out-hostile")
    assert table["ref"]["total"] == "40" and table["ref"]["status"] == "graded"
    assert all(row["source"] == student for student, row in table.items())  # the folder each row came from
    assert table["nothing"]["status"] == "unreadable" and "no exercise module" in table["nothing"]["reason"]
    assert "SyntaxError" in table["broken"]["reason"] and "conftest.py" in table["broken"]["reason"]
    for student, phrase in HOSTILE_EXPECTED.items():
        row = table[student]
        assert row["ex1"] == "20" and float(row["ex2"]) < 20, row
        assert phrase in row["reason"], (student, row["reason"])
    assert table["flood"]["ex2"] == "20"  # printing a lot is not wrong
    assert {r.student for r in rows} == set(table)


def test_a_rerun_grades_only_what_changed(tmp_path, repo, manifest, options):
    subs = tmp_path / "subs"
    make_base(subs, repo)
    first = grade_batch(subs, tmp_path / "out", manifest, options)
    assert not any(r.cached for r in first)
    csv_before = (tmp_path / "out" / "grades.csv").read_text()
    (subs / "partial" / "ex1_shapes.py").write_text((repo / "solutions" / "ex1_shapes.py").read_text())
    second = {r.student: r for r in grade_batch(subs, tmp_path / "out", manifest, options)}
    assert [s for s, r in second.items() if not r.cached and r.status is not RowStatus.UNREADABLE] == ["partial"]
    assert rows_of(tmp_path / "out")["partial"]["ex1"] == "20"
    assert (tmp_path / "out" / "grades.csv").read_text() != csv_before
    assert "partial" in (tmp_path / "out" / "summary.html").read_text()  # read_text fails if it is missing

    # a student withdraws: their files leave results/ and feedback/ but are kept
    shutil.rmtree(subs / "ref")
    notes: list[str] = []
    third = grade_batch(subs, tmp_path / "out", manifest, options, on_note=notes.append)
    assert all(r.cached for r in third if r.status is not RowStatus.UNREADABLE) and "ref" not in rows_of(tmp_path / "out")
    assert not (tmp_path / "out" / "results" / "ref.json").exists()
    assert not (tmp_path / "out" / "feedback" / "ref.md").exists()
    assert (tmp_path / "out" / "stale" / "results" / "ref.json").is_file()
    assert (tmp_path / "out" / "stale" / "feedback" / "ref.md").is_file()
    assert (tmp_path / "out" / "results" / "partial.json").is_file()
    assert any("no longer among the submissions (ref)" in n for n in notes), notes


def test_a_killed_batch_keeps_what_was_graded_and_the_next_run_completes(tmp_path, repo):
    subs = tmp_path / "subs"
    make_base(subs, repo)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "autograder.cli", "batch", str(subs), "--out", str(out), "ex1", "ex2",
           "--jobs", "1", "--manifest", str(repo / "assignments" / "assignment.toml"),
           "--run-seconds", "600", "--cache-dir", str(tmp_path / "cache")]  # overrides pass through
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list((out / "results").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {p.name for p in (out / "results").glob("*.json")}
    assert done_before and not list((out / "results").glob("*.tmp"))
    assert not (out / "grades.csv").exists() or len(rows_of(out)) < 4
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert len(rows_of(out)) == 4 and f"{len(done_before)} from the cache" in again.stdout


def test_ctrl_c_stops_a_batch_at_once_and_says_how_to_go_on(tmp_path, repo):
    subs = tmp_path / "subs"
    for k in range(6):  # a minute of work or more after the first result, one at a time
        shutil.copytree(repo / "solutions", subs / f"s{k}", ignore=shutil.ignore_patterns("ex[3-6]*"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "autograder.cli", "batch", str(subs), "--out", str(out), "ex1", "ex2",
           "--jobs", "1", "--manifest", str(repo / "assignments" / "assignment.toml")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list((out / "results").glob("*.json")) and time.monotonic() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C at the terminal sends
    interrupted = time.monotonic()
    _, stderr = proc.communicate(timeout=300)
    waited = time.monotonic() - interrupted
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Run the same command again" in stderr, stderr
    # the queued submissions were not graded for nothing (that takes a minute or more here)
    assert waited < 20, f"the batch went on for {waited:.0f} s after Ctrl-C"
    assert len(list((out / "results").glob("*.json"))) < 6


def test_a_row_of_untouched_stubs_says_not_implemented():
    from autograder.batch import _reason
    from autograder.results import Outcome, Report, TestResult

    stub = TestResult("ex1", "t.py::test_a", "test_a", Outcome.NOT_IMPLEMENTED, 0.0, 1.0,
                      "not implemented yet: ex1_shapes.conv2d_output_size raises NotImplementedError")
    status, reason = _reason(Report(("ex1",), (stub, stub)))
    assert status is RowStatus.GRADED
    assert reason == "2 not implemented (not implemented yet: ex1_shapes.conv2d_output_size raises NotImplementedError)"


def test_feedback_says_a_shared_failure_once_and_not_graded_tests_do_not_count():
    from autograder.batch import _feedback_markdown
    from autograder.results import Outcome, Report, TestResult

    missing = "importing ex3_vgg.py: your code raised ModuleNotFoundError: your submission has no ex3_vgg.py"
    tests = (TestResult("ex1", "a", "test_a", Outcome.PASSED, 1, 1),
             TestResult("ex1", "b", "test_b", Outcome.FAILED, 0, 2, "returned 2, expected 3"),
             TestResult("ex3", "c", "test_c", Outcome.ERROR, 0, 1, missing + "\n  File ..."),
             TestResult("ex3", "d", "test_d", Outcome.ERROR, 0, 2, missing + "\n  File ..."),
             TestResult("ex3", "e", "test_e", Outcome.NOT_GRADED, 0, 10, "CIFAR-10 not available"))
    text = _feedback_markdown("alice", Report(("ex1", "ex3"), tests))
    assert "**Total: 1 / 6**" in text and "## ex3: 0 / 3" in text
    assert text.count(missing) == 1 and "Every test of ex3 failed the same way:" in text
    assert "- ! `test_c` (0/1, error)" in text and "- ! `test_d` (0/2, error)" in text
    assert "returned 2, expected 3" in text and "Every test of ex1" not in text  # ex1 passed a test
    assert "- `test_e`: not graded in this run, not counted in your total (CIFAR-10 not available)" in text
    assert "0/10" not in text
