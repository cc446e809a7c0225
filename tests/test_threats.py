"""The threat model of issue 7, each threat a hostile submission graded with the real hidden suites.

One batch (the warm server engine) grades every threat of ``threats.py`` next to two clean
submissions (the reference and ``examples/partial``); a second batch grades the clean ones alone.
Then, per threat: the hostile submission scores zero on what it did not honestly pass, its row
names the reason; across all of them: the batch finished, the clean submissions' results are
identical to the run without the threats, no process or cgroup is left behind, the loopback
listener received nothing, and no canary (a line of the hidden tests, a secret in the grader's
environment) reached anything a student sees. The malicious pickle checkpoint (ex5) is one more
small ``grade()`` call.

Tests that only a sandbox (ns or bwrap) can pass skip, with the reason, where it cannot run.
``AUTOGRADER_THREATS_SANDBOX=none`` grades unsandboxed instead (with
``AUTOGRADER_THREATS_STRICT=1`` the sandbox-only threats are graded and asserted too, to show
what unsandboxed grading does not stop; ``AUTOGRADER_THREATS_ONLY=a,b`` grades only those threats).
Hostile processes name themselves with this run's token, so leftovers are found in /proc; the
attacks that write only touch paths holding the token (see threats.py).
"""

from __future__ import annotations

import csv
import dataclasses
import json
import os
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

import threats
from autograder.batch import BatchOptions, RowStatus, grade_batch
from autograder.cgroups import ROOT as CGROUP_ROOT, Cgroup, CgroupUnavailable, _own_path
from autograder.engines import Engine
from autograder.manifest import load_manifest
from autograder.runner import grade
from autograder.sandbox import choose

REPO = Path(__file__).resolve().parents[1]
EXERCISES = ("ex1", "ex2")
TOKEN = uuid.uuid4().hex[:8]
SANDBOX = os.environ.get("AUTOGRADER_THREATS_SANDBOX", "auto")
CHOSEN = choose(SANDBOX)
SANDBOXED = CHOSEN.isolated
STRICT = os.environ.get("AUTOGRADER_THREATS_STRICT") == "1"
#: a comma-separated subset of the threats to grade (the others' tests skip): to see one threat's
#: effect alone, e.g. unsandboxed, where "overwrite" wrecks every other row
ONLY = {s for s in os.environ.get("AUTOGRADER_THREATS_ONLY", "").split(",") if s}


def needs_bwrap(why_not_unsandboxed: str):
    return pytest.mark.skipif(not SANDBOXED and not STRICT, reason=(
        f"{why_not_unsandboxed}: needs a sandbox (ns or bwrap); here: {CHOSEN.description}"))


def _cgroups_work() -> bool:
    group = Cgroup.create(2**30, 64, prefix="cnn-grade-probe")
    if group is None:
        return False
    group.remove()
    return True


CGROUPS = _cgroups_work()
FORKBOMB_STOPPED = CGROUPS or os.getuid() != 0
needs_pids_limit = pytest.mark.skipif(
    not FORKBOMB_STOPPED, reason="no writable pids cgroup and running as root (the kernel does not enforce "
                                 "RLIMIT_NPROC for root): nothing would stop a fork bomb here")
DISK_REASON = ("unsandboxed, a worker writes to the host's disk, where only RLIMIT_FSIZE (256 MB per file) "
               "applies and no cap on the total: not run here")


# -- helpers --------------------------------------------------------------------------------------
#: threats only a sandbox stops: unsandboxed they are not even graded (they would wreck the other
#: rows, or the machine), unless AUTOGRADER_THREATS_STRICT=1 asks to see what they do
BWRAP_ONLY = {"walk", "env", "net", "forge_proc", "overwrite"}


def wanted(student: str) -> bool:
    """Whether ``student`` is graded in this run (the clean ones and the probe always are)."""
    if (student == "diskfill" or (student in BWRAP_ONLY and not STRICT)) and not SANDBOXED:
        return False
    if student == "forkbomb" and not FORKBOMB_STOPPED:
        return False
    return not ONLY or student in ONLY or student in ("ref", "partial", "probe")


def _own_cgroup_dirs() -> list[Path]:
    """The folders under which this process's grading cgroups are made."""
    if (CGROUP_ROOT / "cgroup.controllers").is_file():
        return [CGROUP_ROOT / _own_path(None)]
    found = []
    for controller in ("memory", "pids"):
        try:
            found.append(CGROUP_ROOT / controller / _own_path(controller))
        except CgroupUnavailable:
            pass
    return found


def cgroup_folders() -> set[Path]:
    return {p for d in _own_cgroup_dirs() if d.is_dir() for p in d.glob("cnn-grade-*")}


def others_cgroup_names() -> set[str]:
    """Names of grading cgroups in other sessions' memory cgroups (their pids groups may sit next to
    ours when the pids hierarchy is shared)."""
    own = set(_own_cgroup_dirs())
    memory = CGROUP_ROOT / "memory"
    if not memory.is_dir():
        return set()
    return {p.name for p in memory.rglob("cnn-grade-*") if p.parent not in own}


def processes_named(names: set[str]) -> list[tuple[int, str]]:
    """(pid, name) of every thread or process whose name is one of ``names``."""
    found = []
    for comm in Path("/proc").glob("[0-9]*/task/[0-9]*/comm"):
        try:
            name = comm.read_text().strip()
        except OSError:
            continue
        if name in names:
            found.append((int(comm.parts[2]), name))
    return sorted(set(found))


def children() -> set[int]:
    found: set[int] = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            found |= {int(p) for p in (task / "children").read_text().split()}
        except OSError:
            pass
    return found


def fast_manifest(folder: Path, run_seconds: int | None = None):
    """The real manifest with 2 s call and 8 s test limits (as tests/conftest.py's fixture)."""
    text = (REPO / "assignments" / "assignment.toml").read_text()
    text = text.replace('= "../', f'= "{REPO}/').replace("call_seconds = 20", "call_seconds = 2")
    text = text.replace("test_seconds = 60", "test_seconds = 8")
    if run_seconds is not None:
        text = text.replace("run_seconds = 300", f"run_seconds = {run_seconds}")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "assignment.toml").write_text(text)
    return load_manifest(folder / "assignment.toml")


def batch_options(**kw) -> BatchOptions:
    if SANDBOX != "auto":
        assert "sandbox" in {f.name for f in dataclasses.fields(BatchOptions)}, "BatchOptions has no sandbox"
        kw["sandbox"] = SANDBOX
    return BatchOptions(tests=REPO / "grading_tests", exercises=EXERCISES, jobs=2, engine=Engine.server, **kw)


def hidden_canary() -> str:
    """A line of the hidden ex2 suite that no feedback ever quotes (a helper's signature)."""
    return next(line for line in (REPO / "grading_tests" / "test_ex2_lenet.py").read_text().splitlines()
                if line.startswith("def _"))


class Listener:
    """A TCP listener and a UDP socket on 127.0.0.1 that record whatever reaches them."""

    def __init__(self):
        self.received: list[bytes] = []
        self.connections = 0
        self.stop = threading.Event()
        self.tcp = socket.socket()
        self.tcp.bind(("127.0.0.1", 0))
        self.tcp.listen(16)
        self.tcp.settimeout(0.2)
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.udp.settimeout(0.2)
        self.threads = [threading.Thread(target=self._accept, daemon=True),
                        threading.Thread(target=self._datagrams, daemon=True)]
        for t in self.threads:
            t.start()

    @property
    def ports(self) -> tuple[int, int]:
        return self.tcp.getsockname()[1], self.udp.getsockname()[1]

    def _accept(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(1.0)
            try:
                self.received.append(conn.recv(65536))
            except OSError:
                pass
            conn.close()

    def _datagrams(self):
        while not self.stop.is_set():
            try:
                self.received.append(self.udp.recv(65536))
            except OSError:
                continue

    def close(self):
        self.stop.set()
        for t in self.threads:
            t.join(2)
        self.tcp.close()
        self.udp.close()


@dataclasses.dataclass
class World:
    root: Path
    out: Path
    clean_out: Path
    rows: dict
    notes: list
    seconds: float
    leftover_processes: list
    leftover_cgroups: list
    leftover_children: list
    listener: Listener
    env_canary: str
    probe_failures: set

    def results(self, student: str) -> dict:
        if student not in self.rows:
            pytest.skip(f"{student} was not graded in this run (AUTOGRADER_THREATS_ONLY)")
        return json.loads((self.out / "results" / f"{student}.json").read_text())

    def row(self, student: str) -> dict:
        if student not in self.rows:
            pytest.skip(f"{student} was not graded in this run (AUTOGRADER_THREATS_ONLY)")
        with open(self.out / "grades.csv", newline="") as fh:
            return {r["student"]: r for r in csv.DictReader(fh)}[student]

    def failed(self, student: str, exercise: str) -> dict[str, dict]:
        return {t["name"]: t for t in self.results(student)["tests"]
                if t["exercise"] == exercise and t["outcome"] != "passed"}

    def score(self, student: str, exercise: str | None = None) -> float:
        data = self.results(student)
        return data["score"] if exercise is None else data["exercises"][exercise]["score"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp(f"threats-{TOKEN}")
    manifest = fast_manifest(root / "manifest")
    listener = Listener()
    saved_secret = os.environ.get("CANARY_SECRET")
    env_canary = saved_secret or f"env-canary-{uuid.uuid4().hex}"  # preset: also in /proc/<pid>/environ
    os.environ["CANARY_SECRET"] = env_canary
    names = set(threats.comm_names(TOKEN).values())
    cgroups_before, children_before = cgroup_folders(), children()
    try:
        threats.write_clean(root / "clean", REPO)
        grade_batch(root / "clean", root / "out-clean", manifest, batch_options())
        tests = threats.tests_of(root / "out-clean" / "results" / "ref.json")

        subs = root / "all"
        threats.write_clean(subs, REPO)
        attacks = {student: source for student, source in
                   threats.lenet_threats(REPO, TOKEN, *listener.ports, tests).items() if wanted(student)}
        threats.write_threats(subs, REPO, attacks, shadows=wanted("shadows"))
        if wanted("ziptraversal"):
            threats.write_traversal_zip(subs / "ziptraversal.zip", REPO, TOKEN)
        notes: list[str] = []
        start = time.monotonic()
        rows = grade_batch(subs, root / "out-all", manifest, batch_options(), on_note=notes.append)
        seconds = time.monotonic() - start
        time.sleep(0.5)  # let the kernel finish what was killed last
        leftover = processes_named(names)
        new_cgroups = {p for p in cgroup_folders() - cgroups_before if p.name not in others_cgroup_names()}
        world = World(root, root / "out-all", root / "out-clean", {r.student: r for r in rows}, notes, seconds,
                      leftover, sorted(map(str, new_cgroups)), sorted(children() - children_before), listener,
                      env_canary, set())
        world.probe_failures = set(world.failed("probe", "ex2"))
        yield world
    finally:
        listener.close()
        if saved_secret is None:
            os.environ.pop("CANARY_SECRET", None)
        for pid, _name in processes_named(names):  # whatever a failed test left alive
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass


def assert_lost_exactly_the_forward_tests(world: World, student: str, *phrases: str, outcome: str | None = None):
    """ex1 in full; on ex2, zero on exactly the tests that call forward (the probe's failures)."""
    assert world.score(student, "ex1") == 20, world.failed(student, "ex1")
    failed = world.failed(student, "ex2")
    assert set(failed) == world.probe_failures, (student, sorted(failed))
    for name, test in failed.items():
        assert test["score"] == 0
        if outcome is not None:
            assert test["outcome"] == outcome, (student, name, test["outcome"], test["feedback"][:300])
        for phrase in phrases:
            assert phrase in test["feedback"], (student, name, test["feedback"][:500])
    row = world.row(student)
    assert row["status"] == "graded" and row["reason"], row
    assert not world.results(student)["grader_errors"]


def assert_full_marks(world: World, student: str):
    failed = {n: t["feedback"][:600] for ex in EXERCISES for n, t in world.failed(student, ex).items()}
    assert not failed and world.score(student) == 40, (student, failed)
    assert world.row(student)["status"] == "graded"


def visible_outputs(world: World) -> dict[str, str]:
    """Everything a student (or a TA who forwards it) sees: results, feedback, the gradebook."""
    files = [p for p in world.out.rglob("*") if p.is_file() and ".unpacked" not in p.parts]
    return {str(p.relative_to(world.out)): p.read_text(errors="replace") for p in files}


# -- the batch as a whole -------------------------------------------------------------------------
def test_the_batch_finishes_with_a_row_per_submission(world):
    students = {"ref", "partial", "shadows", "ziptraversal"} | set(threats.lenet_threats(REPO, TOKEN, 1, 1, []))
    assert set(world.rows) == {s for s in students if wanted(s)}
    assert world.seconds < 600
    assert not any("failed" in n or "fresh processes" in n for n in world.notes), world.notes
    assert world.row("ref")["total"] == "40"


def test_clean_submissions_are_identical_to_a_run_without_the_threats(world):
    def stable(results: dict) -> dict:
        keep = ("id", "exercise", "name", "outcome", "score", "max_score", "feedback", "visibility", "grader_error")
        return {"tests": [{k: t[k] for k in keep} for t in results["tests"]], "score": results["score"],
                "exercises": results["exercises"], "grader_errors": results["grader_errors"],
                "not_run": results["not_run"]}

    lines = {out: {ln.split(",", 1)[0]: ln for ln in (out / "grades.csv").read_text().splitlines()[1:]}
             for out in (world.out, world.clean_out)}
    for student in ("ref", "partial"):
        assert lines[world.out][student] == lines[world.clean_out][student]
        with_threats = json.loads((world.out / "results" / f"{student}.json").read_text())
        alone = json.loads((world.clean_out / "results" / f"{student}.json").read_text())
        assert stable(with_threats) == stable(alone), student
        assert ((world.out / "feedback" / f"{student}.md").read_bytes()
                == (world.clean_out / "feedback" / f"{student}.md").read_bytes())


def test_no_process_or_cgroup_is_left_behind(world):
    assert not world.leftover_processes, world.leftover_processes
    assert not world.leftover_cgroups, world.leftover_cgroups
    assert not world.leftover_children, world.leftover_children


@needs_bwrap("unsandboxed, the worker shares the host's network")
def test_the_loopback_listener_receives_nothing(world):
    world.row("net")  # graded in this run
    assert world.listener.connections == 0 and not world.listener.received, world.listener.received[:3]
    assert_full_marks(world, "net")


@needs_bwrap("unsandboxed, the worker can read the hidden tests (the grader's command lines name them)")
def test_no_line_of_the_hidden_tests_reaches_student_visible_output(world):
    world.row("walk")  # graded in this run
    canary = hidden_canary()
    leaks = [name for name, text in visible_outputs(world).items() if canary in text]
    assert not leaks, (canary, leaks)


@needs_bwrap("unsandboxed, a worker of the grader's uid reads the grader's start-up environment in /proc/PID/environ")
def test_no_secret_of_the_graders_environment_reaches_student_visible_output(world):
    world.row("env")  # graded in this run
    leaks = [name for name, text in visible_outputs(world).items() if world.env_canary in text]
    assert not leaks, leaks
    assert_full_marks(world, "env")  # it found no secret at all (it raises when it does)


# -- processes ------------------------------------------------------------------------------------
def test_the_probe_fails_exactly_the_tests_that_call_forward(world):
    assert world.score("probe", "ex1") == 20
    assert world.probe_failures and len(world.probe_failures) < len(
        [t for t in world.results("probe")["tests"] if t["exercise"] == "ex2"])
    assert all("probe: forward was called" in t["feedback"] for t in world.failed("probe", "ex2").values())


def test_an_infinite_loop_times_out(world):
    assert_lost_exactly_the_forward_tests(world, "hang", "did not return within 2 s", outcome="timeout")
    assert "timeout" in world.row("hang")["reason"]


def test_a_sleeping_background_thread_changes_nothing(world):
    assert_full_marks(world, "thread")  # and it is gone: test_no_process_or_cgroup_is_left_behind


@needs_pids_limit
def test_a_fork_bomb_is_contained(world):
    assert_lost_exactly_the_forward_tests(world, "forkbomb", "did not return within 2 s", outcome="timeout")


def test_a_setsid_escapee_does_not_outlive_its_test(world):
    assert_full_marks(world, "escapee")
    assert not [p for p in world.leftover_processes if p[1] == threats.comm_names(TOKEN)["escapee"]]


def test_four_gib_of_stdout_is_cut_off(world):
    assert_lost_exactly_the_forward_tests(world, "stdout", "did not return within 2 s", outcome="timeout")
    assert all(len(t["feedback"]) <= 4000 for t in world.results("stdout")["tests"])


def test_a_memory_bomb_fails_only_the_tests_that_run_it(world):
    assert_lost_exactly_the_forward_tests(world, "memory", "MemoryError")


@pytest.mark.skipif(not SANDBOXED, reason=DISK_REASON)
def test_filling_the_disk_fills_only_the_sandboxs_tmpfs(world):
    assert_lost_exactly_the_forward_tests(world, "diskfill", "No space left on device")


@pytest.mark.parametrize("student, phrase", [
    ("osexit_forward", "ended itself with exit code 0"), ("sysexit_forward", "SystemExit"),
    ("sysexit", "SystemExit"), ("interrupt", "KeyboardInterrupt")])
def test_exits_in_forward_lose_exactly_the_tests_that_call_it(world, student, phrase):
    assert_lost_exactly_the_forward_tests(world, student, phrase)


def test_os_exit_at_import_loses_all_of_ex2_and_nothing_else(world):
    assert world.score("osexit", "ex1") == 20 and world.score("osexit", "ex2") == 0
    assert all("ended itself with exit code 0" in t["feedback"] for t in world.failed("osexit", "ex2").values())


@pytest.mark.skipif(not SANDBOXED and os.getuid() == 0 and not STRICT, reason=(
    "unsandboxed as root, a worker can move itself out of the grader's cgroups, and a setsid grandchild "
    "then outlives a test process killed at its run-time limit (its zygote, the subreaper, dies with it): "
    f"needs a sandbox (a PID namespace) or a non-root grader; here: {CHOSEN.description}"))
def test_a_killed_test_process_leaves_no_escapee_or_cgroup(tmp_path):
    name = f"esk-{TOKEN}"
    sub = tmp_path / "sub"
    threats.write_reference(sub, REPO)
    (sub / "ex2_lenet.py").write_text(threats.escapee_in_a_hang(REPO, name))
    before = cgroup_folders()
    try:
        # the whole run's limit (start-up 2 s + the exercise's 4 s) ends it while a test hangs: before
        # the exercise's own 4 s of test time are used up, which would end its tests more gently
        report = grade(sub, REPO / "grading_tests", fast_manifest(tmp_path / "manifest", run_seconds=4), ["ex2"],
                       startup_seconds=2, sandbox=SANDBOX)
        assert any("exceeded its" in t.feedback for t in report.tests), [t.feedback[:200] for t in report.tests]
        time.sleep(0.5)
        assert not processes_named({name})
        left = {p for p in cgroup_folders() - before if p.name not in others_cgroup_names()}
        assert not left, left
    finally:
        for pid, _name in processes_named({name}):
            os.kill(pid, signal.SIGKILL)


# -- the test process -----------------------------------------------------------------------------
def test_shipped_config_and_shadowing_modules_are_ignored(world):
    assert_full_marks(world, "shadows")
    assert world.results("shadows")["meta"]["ignored_files"] == threats.SHADOW_NAMES
    assert "ignored files: " + threats.SHADOW_NAMES in world.row("shadows")["reason"]


def test_forged_results_and_frames_on_its_own_descriptors_gain_nothing(world):
    data = world.results("forge")
    assert world.score("forge", "ex1") == 20 and world.score("forge", "ex2") == 0
    assert not data["grader_errors"] and not any(t["grader_error"] for t in data["tests"])
    assert all("malformed reply" in t["feedback"] for t in world.failed("forge", "ex2").values())


@needs_bwrap("unsandboxed, a worker of the grader's uid opens the grader's result pipes through /proc/PID/fd")
def test_results_forged_into_the_graders_pipes_gain_nothing(world):
    # unsandboxed, a worker of the grader's uid opens /proc/<batch pid>/fd/<result pipe> for writing
    assert_lost_exactly_the_forward_tests(world, "forge_proc", "probe: forward was called")


# -- what the worker can see ----------------------------------------------------------------------
@needs_bwrap('unsandboxed, the worker sees the whole file system')
def test_walking_the_file_system_finds_no_tests_solutions_or_submissions(world):
    assert_full_marks(world, "walk")  # it raises with what it found: it found nothing


@needs_bwrap("unsandboxed, the worker writes wherever the grader's uid may (as root: anywhere)")
def test_other_students_results_and_sources_cannot_be_overwritten(world):
    assert_full_marks(world, "overwrite")  # it raises with what it wrote: it wrote nothing
    assert not list(world.root.rglob(f"pwned-{TOKEN}*"))


def test_a_zip_with_parent_paths_is_refused_and_writes_nothing_outside(world):
    row = world.row("ziptraversal")
    assert row["status"] == RowStatus.UNREADABLE.value and "outside its folder" in row["reason"], row
    assert not list(world.root.rglob(f"escaped*{TOKEN}*"))
    assert not list(Path("/tmp").glob(f"escaped*{TOKEN}*"))


# -- the trusted side never unpickles --------------------------------------------------------------
def test_a_malicious_pickle_checkpoint_is_never_unpickled(tmp_path, monkeypatch):
    canary = Path("/tmp") / f"pickle-canary-{TOKEN}"
    sub = tmp_path / "pickle"
    threats.pickle_submission(sub, REPO, canary)
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")  # must not reach the trusted side
    before = cgroup_folders()
    try:
        report = grade(sub, REPO / "grading_tests", fast_manifest(tmp_path / "manifest"), ["ex5"], sandbox=SANDBOX)
        assert not canary.exists(), "the checkpoint was unpickled on the grader's side"
    finally:
        canary.unlink(missing_ok=True)
    tests = {t.name: t for t in report.tests}
    save = tests["test_save_checkpoint_writes_state_dict_loadable_with_weights_only"]
    assert save.score == 0 and "weights_only=True" in save.feedback and "UnpicklingError" in save.feedback, save
    assert tests["test_load_checkpoint_loads_in_place_and_returns_the_model"].score > 0
    assert not report.grader_errors
    left = {p for p in cgroup_folders() - before if p.name not in others_cgroup_names()}
    assert not left, left
