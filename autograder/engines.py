"""How a batch's submissions get graded: fresh processes, a warm local server, or a Dask cluster.

Every engine grades one submission with :func:`autograder.runner.grade`, so the results are the
same whichever runs them; they differ in where the trusted test process comes from:

* ``fresh``: a new interpreter per submission (pays the torch import every time);
* ``server``: forked from one warm :class:`~autograder.server.GradingServer` per batch (the
  default for more than a few submissions); while it warms up (it grades the reference once, on
  one core), the other ``jobs - 1`` slots grade submissions with fresh processes; when the server
  cannot start, or dies, the batch goes on with fresh processes and says so;
* ``cluster``: per-submission tasks sent to a Dask distributed scheduler (``--cluster ADDRESS``);
  each Dask worker process keeps its own warm server. Workers must see the same paths (the
  submissions, the tests, the solutions), as on a cluster with a shared file system.
"""

from __future__ import annotations

import enum
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from autograder.manifest import Manifest
from autograder.results import Report
from autograder.runner import grade, stop_running

__all__ = ["Engine", "GradeTask", "LocalGrader", "DaskGrader", "ClusterError", "SERVER_MIN_SUBMISSIONS"]

SERVER_MIN_SUBMISSIONS = 4  # below this, the server's warm-up (one grading of the reference) does not pay


class Engine(str, enum.Enum):
    auto = "auto"  # server for SERVER_MIN_SUBMISSIONS or more submissions, else fresh
    server = "server"
    fresh = "fresh"


class ClusterError(RuntimeError):
    """The Dask scheduler cannot be reached, or Dask is not installed."""


@dataclass(frozen=True)
class GradeTask:
    """What grading one submission needs; plain data, so it can travel to a Dask worker."""

    folder: Path
    tests: Path
    manifest: Manifest
    exercises: tuple[str, ...]
    profile: str = "auto"
    data_dir: Path | None = None
    cache_dir: Path | None = None
    sandbox: str = "auto"
    first_failure: bool = False  # stop at the first failed test (grade verify)
    debug: bool = False  # trusted-side tracebacks in grader errors (grade verify)

    def run(self, server=None) -> Report:
        return grade(self.folder, self.tests, self.manifest, self.exercises, profile=self.profile,
                     data_dir=self.data_dir, cache_dir=self.cache_dir, server=server, sandbox=self.sandbox,
                     first_failure=self.first_failure, debug=self.debug)


class LocalGrader:
    """Grades on this machine, ``jobs`` at a time, with or without a warm server."""

    def __init__(self, engine: Engine, jobs: int, on_note: Callable[[str], None] | None = None):
        self.engine, self.jobs = engine, max(1, jobs)
        self.on_note = on_note or (lambda _text: None)
        self.server = None
        self._lock = threading.Lock()
        self._warm = threading.Event()  # set once the server is up (or failed to start)
        self._warm.set()
        self._fresh_slots = threading.Semaphore(self.jobs - 1)  # fresh gradings while it warms up
        self._closed = False

    def start_server(self, manifest: Manifest, tests: Path, exercises: Sequence[str], sandbox: str = "auto") -> None:
        """Start the warm server for ``tests`` (a note and fresh processes when it cannot start)."""
        from autograder.server import GradingServer, ServerError

        self.on_note("starting the grading server (it grades the reference solution once first)")
        started = time.monotonic()
        try:
            self.server = GradingServer.for_manifest(manifest, tests, exercises=exercises, sandbox=sandbox)
        except (ServerError, OSError) as exc:
            self.on_note(f"the grading server did not start, grading with fresh processes: {exc}")
            return
        self.on_note(f"grading server ready in {time.monotonic() - started:.1f} s")
        for note in reference_problems(self.server.reference_report(tuple(exercises))):
            self.on_note(note)

    def grade_one(self, task: GradeTask) -> Report:
        """Grade with the server when it serves ``task.tests``, else (or when it fails) freshly."""
        server = self.server
        if server is not None and server.serves(task.tests):
            try:
                return task.run(server)
            except (RuntimeError, OSError) as exc:  # the server is gone: nothing of this task is lost
                with self._lock:
                    if self.server is server:
                        self.on_note(f"the grading server failed ({exc}); going on with fresh processes")
                        self.server = None
                        server.stop()
                if self._closed:  # stopped by an interrupt, not broken: nothing more to grade
                    raise
        return task.run()

    def grade_all(self, tasks: Sequence[GradeTask]) -> Iterator[tuple[GradeTask, Report]]:
        """Yield ``(task, report)`` as each finishes."""
        if not tasks:
            return
        wanted = self.engine is Engine.server or (
            self.engine is Engine.auto and len(tasks) >= SERVER_MIN_SUBMISSIONS)
        if wanted:
            self._warm.clear()

            def warm_up() -> None:
                try:
                    self.start_server(tasks[0].manifest, tasks[0].tests, tasks[0].exercises, tasks[0].sandbox)
                finally:
                    with self._lock:  # closed while it warmed up (Ctrl-C, say): no server left running
                        if self._closed and self.server is not None:
                            self.server.stop()
                            self.server = None
                    self._warm.set()

            threading.Thread(target=warm_up, name="grading-server-warm-up", daemon=True).start()
        pool = ThreadPoolExecutor(max_workers=self.jobs)
        try:
            futures = {pool.submit(self._grade_once_warm, task): task for task in tasks}
            for future in as_completed(futures):
                yield futures[future], future.result()
        except BaseException:  # Ctrl-C, or the caller stopped: nothing queued starts, nothing running goes on
            pool.shutdown(wait=False, cancel_futures=True)
            self.close()
            stop_running()
            self._warm.set()  # a task waiting for the server finds none and returns
            raise
        pool.shutdown(wait=True)

    def _grade_once_warm(self, task: GradeTask) -> Report:
        """While the server warms up, grade in a fresh process if one of the ``jobs - 1`` slots left
        to the warm-up is free, else wait for the server."""
        if not self._warm.is_set() and self._fresh_slots.acquire(blocking=False):
            try:
                return task.run()
            finally:
                self._fresh_slots.release()
        self._warm.wait()
        if self._closed:  # interrupted while it waited
            raise RuntimeError("the batch was interrupted")
        return self.grade_one(task)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            server, self.server = self.server, None
        if server is not None:
            server.stop()


def reference_problems(report: Report | None) -> list[str]:
    """Warnings when the warm-up did not give the reference solution every point it could earn."""
    if report is None:
        return []
    notes = [f"warm-up: {e}" for e in report.grader_errors]
    lost = [t for t in report.tests if t.score < t.max_score and t.outcome.value != "not_graded"]
    if lost:
        notes.append(f"warm-up: the reference solution lost points on {len(lost)} test(s) "
                     f"({', '.join(t.name for t in lost[:5])}): check the hidden suites")
    return notes


# -- Dask -------------------------------------------------------------------------------------
_WORKER_SERVERS: dict[tuple, object] = {}
_WORKER_LOCK = threading.Lock()


def _grade_on_dask_worker(task: GradeTask) -> Report:
    """Runs on a Dask worker: grade with this worker process's own warm server (started once)."""
    from autograder.server import GradingServer, ServerError

    key = (str(task.tests), str(task.manifest.path))
    with _WORKER_LOCK:
        server = _WORKER_SERVERS.get(key)
        if server is None:
            try:
                server = GradingServer.for_manifest(task.manifest, task.tests, exercises=task.exercises,
                                                    sandbox=task.sandbox)
            except (ServerError, OSError):
                server = False  # this worker grades with fresh processes
            _WORKER_SERVERS[key] = server
    if server:
        try:
            return task.run(server)
        except (RuntimeError, OSError):
            with _WORKER_LOCK:
                _WORKER_SERVERS[key] = False
    return task.run()


class DaskGrader:
    """Sends one task per submission to the Dask scheduler at ``address``."""

    def __init__(self, address: str, on_note: Callable[[str], None] | None = None, timeout: float = 20.0):
        try:
            from distributed import Client
        except ImportError as exc:
            raise ClusterError("--cluster needs Dask: pip install 'cnn-autograder[cluster]'") from exc
        try:
            self.client = Client(address, timeout=f"{timeout}s")
        except (OSError, TimeoutError) as exc:
            raise ClusterError(f"cannot reach the Dask scheduler at {address}: {exc}") from exc
        self.on_note = on_note or (lambda _text: None)
        workers = len(self.client.scheduler_info().get("workers", {}))
        self.on_note(f"Dask scheduler {address}: {workers} worker(s)")

    def grade_all(self, tasks: Sequence[GradeTask]) -> Iterator[tuple[GradeTask, Report]]:
        from distributed import as_completed as dask_completed

        futures = {self.client.submit(_grade_on_dask_worker, task, pure=False, key=f"grade-{i}-{task.folder.name}"): task
                   for i, task in enumerate(tasks)}
        for future in dask_completed(list(futures)):
            task = futures[future]
            try:
                report = future.result()
            except Exception as exc:  # the Dask worker died or lost the task: grade it here
                self.on_note(f"{task.folder.name}: the cluster failed ({type(exc).__name__}: {exc}); graded locally")
                report = task.run()
            yield task, report

    def close(self) -> None:
        self.client.close()
