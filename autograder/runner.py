"""Grade one submission: stage its exercise modules, run the trusted test process, collect results.

The parent (this module) never imports torch, the tests or the student's code. It copies only
the manifest's exercise modules into a fresh folder, starts ``python -I -m autograder.trusted``,
and reads one JSON line per test as it finishes, so a crash keeps what was already graded. It
learns the expected test ids from the collection message (sent before any student code runs) and
rejects results for any other id; tests that never reported become ``timeout`` or ``error`` with
the reason.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from autograder.manifest import Manifest
from autograder.results import Outcome, Report, TestResult, Visibility
from autograder.sandbox import Sandbox, SandboxMode, choose
from autograder.trusted import ExerciseLimits, TrustedConfig, submission_cgroup

if TYPE_CHECKING:
    from autograder.server import GradingServer

__all__ = ["GradeInputError", "grade", "stage_modules", "trusted_config", "ResultCollector", "chmod_writable",
           "IGNORED_KINDS", "trusted_environment"]

STARTUP_SECONDS = 60.0  # the trusted process's own torch import, on a loaded machine
SERVER_STARTUP_SECONDS = 20.0  # a fork of a warm server: collection only
MAX_LINE = 1 << 20
IGNORED_KINDS = (".py", ".pth", ".ini", ".cfg", ".toml")
#: What the trusted test process (and so the grading server, bubblewrap and the zygotes) inherits
#: of the grader's environment: locale, paths, data and cache folders, GPU selection, thread counts.
#: Never CI tokens or other secrets: a process's start-up environment stays readable in
#: /proc/PID/environ after os.environ is cleared (the worker's own unsandboxed, bubblewrap's as PID 1
#: inside the sandbox), and never TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD.
TRUSTED_ENV_KEYS = frozenset({
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT",
    "XDG_CACHE_HOME", "TORCH_HOME", "CIFAR10_DIR", "LD_LIBRARY_PATH", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
    "CUDA_VISIBLE_DEVICES", "CUDA_DEVICE_ORDER", "HIP_VISIBLE_DEVICES", "ROCR_VISIBLE_DEVICES",
    "PYTORCH_CUDA_ALLOC_CONF"})
TRUSTED_ENV_PREFIXES = ("LC_", "NVIDIA_")


def trusted_environment(environ: "dict[str, str] | None" = None) -> dict[str, str]:
    """The minimal environment the trusted test process and the grading server are started with."""
    environ = os.environ if environ is None else environ
    return {k: v for k, v in environ.items() if k in TRUSTED_ENV_KEYS or k.startswith(TRUSTED_ENV_PREFIXES)}


class GradeInputError(ValueError):
    """The request cannot be graded (missing submission folder, unknown exercise, ...)."""


def stage_modules(submission: Path, manifest: Manifest, into: Path, notes: list[str] | None = None,
                  file_notes: list[str] | None = None) -> list[str]:
    """Copy the manifest's exercise modules (and nothing else) from ``submission`` into ``into``;
    returns the names of files that were left behind on purpose (conftest.py, pytest.ini, a notebook
    next to exercise .py files, ...). A submission with notebooks and no exercise module has them
    converted (:mod:`autograder.notebooks`; a bad notebook is a :class:`GradeInputError`); what the
    conversion did is appended to ``notes``. Modules one folder down (no module and no notebook at
    the top) and modules saved under a near name (``Ex2_LeNet.py``, ``ex2_lenet (1).py``,
    ``ex2_lenet.py.txt``; one candidate only) are graded too, and ``file_notes`` says so."""
    from autograder.notebooks import NotebookError, find_notebooks, notebook_to_modules, stage_notebooks
    from autograder.submissions import find_module_folder, near_name

    into.mkdir(parents=True, exist_ok=True)
    if submission.is_file():  # a bare notebook: its code cells are the submission
        try:
            converted = notebook_to_modules([submission], manifest.modules, into)
        except NotebookError as exc:
            raise GradeInputError(str(exc)) from None
        if notes is not None:
            notes.extend(converted)
        os.chmod(into, 0o555)
        return []
    wanted = set(manifest.modules)
    said = file_notes if file_notes is not None else []
    if not any((submission / m).is_file() for m in wanted) and not find_notebooks(submission):
        deeper = find_module_folder(submission, manifest.modules)
        if deeper is not None and deeper != submission:
            said.append(f"graded the files in {deeper.name}/, one folder down")
            submission = deeper
    used = set()
    for name in sorted(wanted):
        src = submission / name
        if not src.is_file() or src.is_symlink():
            src = near_name(submission, name)
            if src is None:
                continue
            said.append(f"graded {src.name} as {name}: rename it {name}")
        used.add(src.name)
        shutil.copyfile(src, into / name)
        os.chmod(into / name, 0o444)
    try:
        staged = stage_notebooks(submission, manifest.modules, into)
    except NotebookError as exc:
        raise GradeInputError(str(exc)) from None
    if notes is not None:
        notes.extend(staged.notes)
    ignored = sorted([p.name for p in submission.iterdir() if p.name not in wanted | used
                      and p.name != "assignment.toml" and p.suffix in IGNORED_KINDS and p.is_file()
                      and not p.name.startswith("._")]  # macOS' AppleDouble copies: not the student's
                     + list(staged.ignored))
    os.chmod(into, 0o555)
    return ignored


def trusted_config(manifest: Manifest, tests: Path, selected: Sequence[str], scratch: Path, result_fd: int,
                   visibility: Visibility, *, mode: str = "worker", profile: str = "auto",
                   data_dir: Path | None = None, cache_dir: Path | None = None,
                   sandbox: Sandbox | None = None, first_failure: bool = False, debug: bool = False) -> TrustedConfig:
    """The trusted test process's configuration for modules staged in ``scratch/modules``."""
    chosen = [manifest.exercise(e) for e in selected]
    return TrustedConfig(
        tests_dir=str(tests), modules_dir=str(scratch / "modules"), scratch_dir=str(scratch / "work"),
        exercises=tuple(selected), all_exercises=manifest.names,
        modules=tuple(e.module_name for e in manifest.exercises),
        limits={e.name: ExerciseLimits(e.limits.call_seconds, e.limits.test_seconds, e.limits.run_seconds)
                for e in chosen},
        solutions_dir=str(manifest.solutions) if manifest.solutions else None,
        visibility=visibility.value, memory_mb=max(e.limits.memory_mb for e in chosen),
        result_fd=result_fd, mode=mode, profile=profile,
        data_dir=str(Path(data_dir).resolve()) if data_dir else None,
        cache_dir=str(Path(cache_dir).resolve()) if cache_dir else None,
        sandbox=(sandbox or choose(SandboxMode.auto)).to_json(), first_failure=first_failure, debug=debug)


def check_paths(manifest: Manifest) -> None:
    """A folder the manifest names that does not exist is the instructor's typo: say so (a usage
    error), rather than fail every reference-based test of every student."""
    for key, path in (("paths.solutions", manifest.solutions), ("paths.hidden_tests", manifest.hidden_tests)):
        if path is not None and not Path(path).is_dir():
            raise GradeInputError(f"{manifest.path}: {key} names {path}, which is not a folder")


def visibility_of(tests: Path, manifest: Manifest) -> Visibility:
    hidden = manifest.hidden_tests
    return Visibility.HIDDEN if hidden is not None and tests.resolve() == hidden.resolve() else Visibility.VISIBLE


def grade(submission: Path, tests: Path, manifest: Manifest, exercises: Sequence[str] | None = None, *,
          on_result: Callable[[TestResult], None] | None = None, mode: str = "worker",
          startup_seconds: float = STARTUP_SECONDS, profile: str = "auto", data_dir: Path | None = None,
          cache_dir: Path | None = None, server: "GradingServer | None" = None,
          sandbox: SandboxMode | str = SandboxMode.auto, first_failure: bool = False, debug: bool = False) -> Report:
    """Grade ``submission`` with the suite in ``tests``; the Python API behind ``grade check``.

    ``profile`` (cpu, gpu, auto), ``data_dir`` and ``cache_dir`` reach the accuracy tests. With a
    ``server`` (:class:`autograder.server.GradingServer`, for the same ``tests``) the trusted test
    process is forked from it instead of started fresh (and the server's sandbox is used).
    ``sandbox`` (auto, ns, bwrap, none: :mod:`autograder.sandbox`) isolates the student's code; a
    request for ns or bwrap where it cannot run raises :class:`~autograder.sandbox.SandboxUnavailable`.
    ``first_failure`` stops at the first failed test; the tests after it are ``not_graded`` (for
    ``grade verify``, which only asks whether a mutant loses points). ``debug`` adds the trusted side's
    traceback to grader errors and to failures blamed on a value the student returned: for an
    instructor writing tests (it shows hidden test source; never for students' runs)."""
    submission, tests = Path(submission).resolve(), Path(tests).resolve()
    if not (submission.is_dir() or (submission.is_file() and submission.suffix == ".ipynb")):
        raise GradeInputError(f"submission not found: {submission} (a folder with the exercise modules, "
                              "or a .ipynb notebook)")
    if not tests.is_dir():
        raise GradeInputError(f"tests folder not found: {tests}")
    check_paths(manifest)
    selected = tuple(exercises) if exercises else manifest.names
    unknown = [e for e in selected if e not in manifest.names]
    if unknown:
        raise GradeInputError(f"unknown exercise {', '.join(unknown)}; the manifest has {', '.join(manifest.names)}")
    visibility = visibility_of(tests, manifest)
    chosen_sandbox = server.sandbox if server is not None else choose(sandbox)
    started = time.monotonic()

    scratch = Path(tempfile.mkdtemp(prefix="grade-"))
    cgroup = None
    try:
        notes: list[str] = []
        file_notes: list[str] = []
        ignored = stage_modules(submission, manifest, scratch / "modules", notes, file_notes)
        (scratch / "work").mkdir()
        chosen = [manifest.exercise(e) for e in selected]
        read_fd, write_fd = os.pipe()
        cfg = trusted_config(manifest, tests, selected, scratch, write_fd, visibility, mode=mode,
                             profile=profile, data_dir=data_dir, cache_dir=cache_dir, sandbox=chosen_sandbox,
                             first_failure=first_failure, debug=debug)
        if server is not None and mode == "worker":
            startup_seconds = min(startup_seconds, SERVER_STARTUP_SECONDS)
        run_seconds = startup_seconds + sum(e.limits.run_seconds for e in chosen)
        with open(scratch / "trusted.log", "wb") as log:
            if server is not None and mode == "worker":
                proc: Any = server.launch(cfg, log.fileno())
            else:
                if mode == "worker":  # made here, so that it goes even when the test process is killed
                    cgroup = submission_cgroup(cfg.memory_mb)
                    cfg = replace(cfg, cgroup=cgroup.to_json() if cgroup is not None else None)
                proc = _Fresh(subprocess.Popen(
                    [sys.executable, "-I", "-m", "autograder.trusted", cfg.to_json()],
                    pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, cwd=scratch / "work", env=trusted_environment()))
        os.close(write_fd)
        collector = ResultCollector(on_result)
        timed_out = _read_stream(read_fd, time.monotonic() + run_seconds, collector)
        os.close(read_fd)
        returncode = proc.stop(at_once=timed_out or collector.done)
        log_tail = (scratch / "trusted.log").read_bytes()[-2000:].decode("utf-8", "replace")
        report = collector.report(selected, visibility, returncode, timed_out, run_seconds, log_tail,
                                  first_failure)
    finally:
        if cgroup is not None:  # the zygote's tree, a setsid escapee included
            cgroup.remove()
        chmod_writable(scratch)
        shutil.rmtree(scratch, ignore_errors=True)

    grader_errors = list(report.grader_errors)
    if visibility is Visibility.HIDDEN and not grader_errors:
        for ex in chosen:
            total = sum(t.max_score for t in report.tests if t.exercise == ex.name)
            if total != ex.points:
                grader_errors.append(f"the hidden suite for {ex.name} is worth {total:g} points but the "
                                     f"manifest says {ex.points:g}")
    meta = {"submission": str(submission), "tests": str(tests), "visibility": visibility.value,
            "sandbox": chosen_sandbox.description}
    if ignored:
        meta["ignored_files"] = ", ".join(ignored)
    if notes:
        meta["notebook"] = "; ".join(notes)[:2000]
    if file_notes:
        meta["files"] = "; ".join(file_notes)[:2000]
    return replace(report, grader_errors=tuple(grader_errors), duration=time.monotonic() - started,
                   not_run=_not_run(report, visibility, selected), meta=meta)


class ResultCollector:
    def __init__(self, on_result: Callable[[TestResult], None] | None):
        self.on_result = on_result
        self.expected: dict[str, TestResult] | None = None
        self.results: dict[str, TestResult] = {}
        self.grader_errors: list[str] = []
        self.done = False

    def feed(self, line: bytes) -> None:
        try:
            message = json.loads(line)
            kind = message.get("type")
            if kind == "collected" and self.expected is None:
                self.expected = {}
                for data in message["tests"]:
                    test = TestResult.from_json(data)
                    self.expected[test.id] = test
            elif kind == "result":
                test = TestResult.from_json(message)
                if self.expected is None or test.id not in self.expected or test.id in self.results:
                    self.grader_errors.append(f"rejected a result for an unexpected test id {test.id!r}")
                    return
                want = self.expected[test.id]
                test = replace(test, exercise=want.exercise, max_score=want.max_score,
                               score=want.max_score if test.outcome is Outcome.PASSED else 0.0)
                self.results[test.id] = test
                if self.on_result is not None:
                    self.on_result(test)
            elif kind == "grader_error":
                self.grader_errors.append(str(message["message"])[:1000])
            elif kind == "done":
                self.done = True
            else:
                raise ValueError(kind)
        except (ValueError, KeyError, TypeError, AttributeError):
            self.grader_errors.append("the test process sent a malformed message")

    def report(self, selected: tuple[str, ...], visibility: Visibility, returncode: int | None,
               timed_out: bool, run_seconds: float, log_tail: str, first_failure: bool = False) -> Report:
        errors = list(self.grader_errors)
        if self.expected is None:
            last = [ln for ln in log_tail.strip().splitlines() if ln.strip()][-1:] or ["no output"]
            why = "it ran out of time" if timed_out else f"exit code {returncode}: {last[0][:300]}"
            errors.append(f"the test process stopped before it collected any test ({why})")
        tests = []
        for test_id, want in (self.expected or {}).items():
            got = self.results.get(test_id)
            if got is None:
                if first_failure and self.done and not timed_out:
                    got = replace(want, outcome=Outcome.NOT_GRADED, feedback=(
                        "not run: grading stopped at the first failed test"))
                elif timed_out:
                    got = replace(want, outcome=Outcome.TIMEOUT, feedback=(
                        f"not run: the whole run exceeded its {run_seconds:g} s limit before this test finished"))
                else:
                    got = replace(want, outcome=Outcome.ERROR, grader_error=True, feedback=(
                        f"not run: the test process stopped early (exit code {returncode})"))
            tests.append(got)
        if not self.done and self.expected is not None and not timed_out:
            errors.append(f"the test process ended before the run finished (exit code {returncode})")
        order = {e: i for i, e in enumerate(selected)}
        tests.sort(key=lambda t: order.get(t.exercise, len(order)))
        return Report(exercises=selected, tests=tuple(tests), grader_errors=tuple(errors))


def _read_stream(fd: int, deadline: float, collector: ResultCollector) -> bool:
    """Feed JSON lines to ``collector`` until the stream ends; True when the deadline hit first."""
    buffer = b""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return True
        ready, _, _ = select.select([fd], [], [], min(remaining, 1.0))
        if not ready:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            if buffer.strip():
                collector.feed(buffer)
            return False
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if line.strip():
                collector.feed(line)
        if collector.done:  # everything is in: no need to wait for the interpreter to shut down
            return False
        if len(buffer) > MAX_LINE:
            collector.grader_errors.append("the test process sent an over-long message")
            buffer = b""


_RUNNING: set["_Fresh"] = set()  # trusted test processes started by grade() and not yet reaped
_RUNNING_LOCK = threading.Lock()


class _Fresh:
    """A trusted test process started as a new interpreter (in a session of its own: a Ctrl-C
    at the terminal does not reach it, :func:`stop_running` does)."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        with _RUNNING_LOCK:
            _RUNNING.add(self)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, at_once: bool) -> int | None:
        """Reap it; kill its whole group (the zygote, and through it the workers)."""
        if not at_once:
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        code = self.proc.wait()
        with _RUNNING_LOCK:
            _RUNNING.discard(self)
        return code


def stop_running() -> None:
    """Kill every trusted test process this process started and still runs (a batch interrupted:
    the gradings in flight end now instead of finishing for nothing)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING)
    for fresh in running:
        fresh.kill()


def chmod_writable(folder: Path) -> None:
    for root, dirs, _files in os.walk(folder):
        for d in dirs:
            try:
                os.chmod(os.path.join(root, d), 0o755)
            except OSError:
                pass


def _not_run(report: Report, visibility: Visibility, selected: tuple[str, ...]) -> tuple[str, ...]:
    notes = []
    if visibility is Visibility.VISIBLE:
        notes.append("Hidden tests were not run: your instructor grades with them, so passing these "
                     "public tests does not guarantee full marks.")
    for ex in selected:
        if not any(t.exercise == ex for t in report.tests) and report.tests:
            notes.append(f"{ex}: this suite has no tests for it.")
    not_graded = [t for t in report.tests if t.outcome is Outcome.NOT_GRADED]
    for t in not_graded:
        notes.append(f"{t.exercise} {t.name}: not graded ({t.feedback})")
    return tuple(notes)
