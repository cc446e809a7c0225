"""The batch grading server: the same results as fresh processes, failures contained, nothing left."""

from __future__ import annotations

import os
import shutil
import signal
import time

import pytest

from autograder.engines import Engine, GradeTask, LocalGrader
from autograder.runner import grade
from autograder.sandbox import SandboxUnavailable, choose
from autograder.server import GradingServer

EXERCISES = ("ex1", "ex2")


def descendants(pid: int) -> set[int]:
    """Every live process below ``pid`` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents.setdefault(int(fields[1]), []).append(int(entry))
    found, todo = set(), [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    out = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                if fh.read().rsplit(")", 1)[1].split()[0] != "Z":
                    out.add(pid)
        except OSError:
            pass
    return out


def verdicts(report):
    return {t.id: (t.outcome, t.score, t.feedback) for t in report.tests}


@pytest.fixture(scope="module")
def server(manifest):
    srv = GradingServer.for_manifest(manifest, manifest.hidden_tests, exercises=EXERCISES)
    yield srv
    srv.stop()


def test_server_warm_up_gives_the_reference_full_marks(server):
    report = server.reference_report(EXERCISES)
    assert report.tests and not report.grader_errors
    assert report.score == report.max_score == 40


def test_server_grades_exactly_like_a_fresh_process(server, manifest, repo, tmp_path):
    from autograder.mutants import load_mutants, materialize

    mutant = next(m for m in load_mutants(manifest.mutants) if m.exercise == "ex2")
    folders = [repo / "examples" / "partial", repo / "examples" / "broken",
               materialize(mutant, manifest.solutions, tmp_path / mutant.name)]
    for folder in folders:
        warm = grade(folder, manifest.hidden_tests, manifest, EXERCISES, server=server)
        fresh = grade(folder, manifest.hidden_tests, manifest, EXERCISES)
        assert verdicts(warm) == verdicts(fresh), folder.name
        assert warm.grader_errors == fresh.grader_errors and warm.meta == fresh.meta
        assert warm.score < warm.max_score


def test_server_refuses_a_suite_it_does_not_serve(server, manifest):
    with pytest.raises(ValueError, match="serves"):
        grade(manifest.template, manifest.public_tests, manifest, EXERCISES, server=server)


def test_a_hanging_submission_times_out_and_the_next_one_is_graded(server, repo, fast_manifest, make_submission):
    source = (repo / "solutions" / "ex2_lenet.py").read_text()
    forward = "        x = self.pool(F.relu(self.conv1(x)))"
    hang = make_submission("hang", {"ex2_lenet.py": source.replace(forward, "        while True:\n            pass\n" + forward)})
    # the fast manifest's limits reach the forked test process through its configuration
    report = grade(hang, fast_manifest.hidden_tests, fast_manifest, ["ex2"], server=server)
    timeouts = [t for t in report.tests if t.outcome.value == "timeout"]
    assert timeouts and "2 s" in timeouts[0].feedback
    again = grade(repo / "solutions", fast_manifest.hidden_tests, fast_manifest, ["ex2"], server=server)
    assert again.score == again.max_score == 20


def test_a_dead_server_falls_back_to_fresh_processes(manifest, repo):
    notes: list[str] = []
    grader = LocalGrader(Engine.server, jobs=1, on_note=notes.append)
    grader.start_server(manifest, manifest.hidden_tests, ["ex1"])
    assert grader.server is not None
    os.killpg(grader.server.proc.pid, signal.SIGKILL)
    time.sleep(0.5)
    report = grader.grade_one(GradeTask(repo / "solutions", manifest.hidden_tests, manifest, ("ex1",)))
    grader.close()
    assert report.score == report.max_score == 20 and not report.grader_errors
    assert any("going on with fresh processes" in n for n in notes), notes


@pytest.mark.parametrize("sandbox", ["none", "ns", "bwrap"])
def test_stopping_the_server_leaves_no_process_behind(manifest, repo, sandbox):
    try:
        choose(sandbox)
    except SandboxUnavailable as exc:
        pytest.skip(str(exc))
    srv = GradingServer.for_manifest(manifest, manifest.hidden_tests, exercises=["ex1"], sandbox=sandbox)
    seen: set[int] = {srv.proc.pid}
    report = grade(repo / "solutions", manifest.hidden_tests, manifest, ["ex1"], server=srv,
                   on_result=lambda _t: seen.update(descendants(srv.proc.pid)))
    assert report.score == 20
    assert len(seen) >= 3  # the server, a test process, a zygote (and workers) were seen running
    scratch = srv.scratch
    srv.stop()
    deadline = time.monotonic() + 5
    while alive(seen) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(seen)
    assert not scratch.exists()


def test_server_start_failure_is_reported_with_the_log(tmp_path, manifest):
    from autograder.server import ServerError

    broken = tmp_path / "suite"
    broken.mkdir()
    shutil.copy(manifest.hidden_tests / "strategies.py", broken)
    with pytest.raises(ServerError, match="did not start in time|exit code"):
        GradingServer.start(broken, warm_up=None, timeout=0.01)


def test_while_the_server_warms_up_the_other_slots_grade_with_fresh_processes(manifest, repo, monkeypatch):
    served: list[bool] = []  # for each grading: did it come from the warm server?
    run = GradeTask.run

    def recording_run(self, server=None):
        served.append(server is not None)
        return run(self, server)

    monkeypatch.setattr(GradeTask, "run", recording_run)
    notes: list[str] = []
    grader = LocalGrader(Engine.server, jobs=2, on_note=notes.append)
    tasks = [GradeTask(repo / "solutions", manifest.hidden_tests, manifest, ("ex2",)) for _ in range(4)]
    try:
        reports = [report for _, report in grader.grade_all(tasks)]
    finally:
        grader.close()
    assert [r.score for r in reports] == [20.0] * 4 and not any(r.grader_errors for r in reports)
    assert served[0] is False, served  # the first one did not wait for the warm-up
    assert True in served, (served, notes)  # the rest went to the server once it was up
    assert any("ready in" in n for n in notes), notes
