"""The pytest plugin of the trusted test process: fixtures, points, and one result per test.

It provides the ``student`` fixture (a fresh worker per test, reached through proxies) and the
``reference`` fixture (the solutions, imported here in the trusted process), reads points and
exercises from markers, turns each test's phases into one :class:`~autograder.results.TestResult`,
and streams it to the parent as one JSON line the moment the test ends.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from autograder.client import WorkerClient
from autograder.errors import GraderAttributeError, WorkerTimeout
from autograder.notebooks import generated_from
from autograder.outcomes import FEEDBACK_CAP, UNUSABLE_VALUE, classify, debug_detail
from autograder.proxy import LIBRARIES, StudentNamespace
from autograder.results import NO_CIFAR10, Outcome, TestResult, Visibility
from autograder.trusted import TrustedConfig
from autograder.zygote import Zygote

__all__ = ["GradingPlugin", "ModuleDirectory", "HYPOTHESIS_PROFILE"]

HYPOTHESIS_PROFILE = "autograder"
_VERDICT = pytest.StashKey[list]()
_CLIENT = pytest.StashKey[WorkerClient]()


#: What the sandbox's bare system prints on its own (matplotlib's font set-up), not the student's output.
_ENVIRONMENT_NOISE = ("Fontconfig error:", "Matplotlib is building the font cache")


class _NoModule(GraderAttributeError, LookupError):
    pass


class ModuleDirectory:
    """``ns.<name>`` imports ``<folder>/<name>.py`` in this process (the reference solutions)."""

    def __init__(self, folder: Path | None, prefix: str, what: str, libraries: dict[str, str] | None = None):
        self._folder, self._prefix, self._what = folder, prefix, what
        self._libraries = libraries or {}

    def __eq__(self, other: object) -> bool:  # equal across sessions: a key for once_per_batch
        return isinstance(other, ModuleDirectory) and (self._folder, self._prefix) == (other._folder, other._prefix)

    def __hash__(self) -> int:
        return hash((self._folder, self._prefix))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._libraries:
            return importlib.import_module(self._libraries[name])
        key = f"{self._prefix}{name}"
        if key not in sys.modules:
            path = self._folder / f"{name}.py" if self._folder else None
            if path is None or not path.is_file():
                # an AttributeError too: hasattr() and hypothesis's mock check expect one
                raise _NoModule(f"no {self._what} module {name}.py (looked in {self._folder})")
            spec = importlib.util.spec_from_file_location(key, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[key] = module
            spec.loader.exec_module(module)
        return sys.modules[key]


def _marker_arg(item: pytest.Item, name: str) -> Any:
    marker = item.get_closest_marker(name)
    return marker.args[0] if marker is not None and marker.args else None


class GradingPlugin:
    def __init__(self, config: TrustedConfig, zygote: Zygote | None, stream: Any):
        self.cfg = config
        self.zygote = zygote
        self.stream = stream
        self.expected: dict[str, TestResult] = {}
        self.problems: list[str] = []
        self.import_timeouts: dict[str, str] = {}  # module -> why its import ran out of time (this run)
        self.spent: dict[str, float] = {}  # exercise -> seconds its tests have taken so far
        self._cifar10: Any = None  # loaded once per run, or the reason it is not available
        self._notebooks: dict[str, str] | None = None

    def notebooks(self) -> dict[str, str]:
        """``{module: notebook}`` for the modules generated from a notebook's cells (read once)."""
        if self._notebooks is None:
            found = {m: generated_from(Path(self.cfg.modules_dir) / f"{m}.py") for m in self.cfg.modules}
            self._notebooks = {m: nb for m, nb in found.items() if nb}
        return self._notebooks

    def emit(self, message: dict) -> None:
        self.stream.write(json.dumps(message) + "\n")
        self.stream.flush()

    # -- configuration ---------------------------------------------------------------------
    def pytest_configure(self, config: pytest.Config) -> None:
        config.addinivalue_line("markers", "points(n): what the test is worth")
        config.addinivalue_line("markers", "exercise(name): the manifest exercise the test grades")
        config.addinivalue_line("markers", "time_limit(call_seconds, test_seconds): longer limits for this test")
        config.addinivalue_line("markers", "accuracy: trains on CIFAR-10 (needs --data-dir; profile cpu or gpu)")
        from hypothesis import HealthCheck, settings

        settings.register_profile(
            HYPOTHESIS_PROFILE, derandomize=True, database=None, deadline=None, print_blob=False,
            report_multiple_bugs=False,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                   HealthCheck.data_too_large])
        settings.load_profile(HYPOTHESIS_PROFILE)

    # -- fixtures --------------------------------------------------------------------------
    @pytest.fixture
    def student(self, request: pytest.FixtureRequest) -> Iterator[Any]:
        """The student's exercise modules: ``student.ex2_lenet.Net(7)`` (proxies to a fresh worker)."""
        if self.cfg.mode == "direct":  # benchmarks only: the student's code in this process
            home, back = tempfile.mkdtemp(dir=self.cfg.scratch_dir), os.getcwd()
            os.chdir(home)  # files the test has the student's code write land here, as in a worker
            try:
                yield ModuleDirectory(Path(self.cfg.modules_dir), "_direct_", "student", LIBRARIES)
            finally:
                os.chdir(back)
                shutil.rmtree(home, ignore_errors=True)
            return
        exercise = _marker_arg(request.node, "exercise")
        limits = self.cfg.limits_for(exercise)
        override = request.node.get_closest_marker("time_limit")
        call_seconds = override.kwargs.get("call_seconds", limits.call_seconds) if override else limits.call_seconds
        test_seconds = override.kwargs.get("test_seconds", limits.test_seconds) if override else limits.test_seconds
        left = limits.run_seconds - self.spent.get(exercise, 0.0) if limits.run_seconds and not override else None
        test_limit = ""
        if left is not None and left < test_seconds:
            # an exercise's tests share its run limit: one whose code keeps timing out cannot use
            # up the time of the exercises graded after it
            test_seconds = max(left, 0.0)
            test_limit = (f"the {test_seconds:.1f} s left of {exercise}'s run limit of "
                          f"{limits.run_seconds:g} s (earlier tests used the rest)")
        gpu = request.node.get_closest_marker("accuracy") is not None  # the others see no GPU
        client = WorkerClient(self.zygote, call_seconds, test_seconds, gpu=gpu, test_limit=test_limit)
        if left is not None and left <= 0:  # its first call fails (raised here, in setup, it would upset pytest)
            client.dead = WorkerTimeout(f"not run: the tests of {exercise} used up its run limit of "
                                        f"{limits.run_seconds:g} s (calls into your code kept running out of time)")
        request.node.stash[_CLIENT] = client
        try:
            yield StudentNamespace(client, self.cfg.modules, self.import_timeouts, self.notebooks())
        finally:
            client.close()

    @pytest.fixture
    def reference(self) -> ModuleDirectory:
        """The reference solutions, loaded in the trusted process: ``reference.ex2_lenet.Net(7)``."""
        folder = Path(self.cfg.solutions_dir) if self.cfg.solutions_dir else None
        return ModuleDirectory(folder, "_reference_", "reference solution")

    @pytest.fixture(scope="session")
    def accuracy_profile(self) -> str:
        """The accuracy profile of this run: "cpu" or "gpu" ("auto" picks gpu when CUDA is available)."""
        if self.cfg.profile != "auto":
            return self.cfg.profile
        import torch

        return "gpu" if torch.cuda.is_available() else "cpu"

    @pytest.fixture(scope="session")
    def cifar10(self) -> Any:
        """CIFAR-10 (:class:`autograder.data.Cifar10`), or the test is not graded, with the reason."""
        from autograder.data import DataError, load
        from autograder.testing import not_graded

        if self._cifar10 is None:
            if not self.cfg.data_dir:
                self._cifar10 = (f"{NO_CIFAR10}: pass --data-dir or set CIFAR10_DIR (no copy? "
                                 "`grade data download --root DIR` fetches it)")
            else:
                try:
                    self._cifar10 = load(Path(self.cfg.data_dir), Path(self.cfg.cache_dir) if self.cfg.cache_dir else None)
                except DataError as exc:
                    self._cifar10 = f"{NO_CIFAR10}: {exc}"
        if isinstance(self._cifar10, str):
            not_graded(self._cifar10)
        return self._cifar10

    # -- collection ------------------------------------------------------------------------
    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            last = str(report.longrepr).strip().splitlines()[-1:] or ["?"]
            self.problems.append(f"could not load {report.nodeid or 'the tests'}: {last[0][:300]}")

    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        keep, drop, told = [], [], set()
        for item in items:
            exercise, points = _marker_arg(item, "exercise"), _marker_arg(item, "points")
            if exercise not in self.cfg.all_exercises:
                file = item.nodeid.split("::")[0]
                if (file, exercise) not in told:  # once per file: a dropped exercise's suite is one problem
                    told.add((file, exercise))
                    self.problems.append(
                        f"{item.nodeid}: no exercise marker: add pytestmark = pytest.mark.exercise(\"exN\") "
                        f"at the top of {file}" if exercise is None else
                        f"{item.nodeid} (and the other tests of {file} marked so): exercise marker {exercise!r} "
                        f"is not an exercise of the manifest ({', '.join(self.cfg.all_exercises)}); delete the "
                        f"file if the exercise was dropped")
                drop.append(item)
                continue
            if exercise not in self.cfg.exercises:
                drop.append(item)
                continue
            if isinstance(points, bool) or not isinstance(points, (int, float)) or points < 0:
                self.problems.append(f"{item.nodeid}: needs @pytest.mark.points(n) with n >= 0")
                drop.append(item)
                continue
            keep.append(item)
            self.expected[item.nodeid] = TestResult(
                exercise=exercise, id=item.nodeid, name=item.name, outcome=Outcome.ERROR,
                score=0.0, max_score=float(points), visibility=Visibility(self.cfg.visibility))
        if drop:
            config.hook.pytest_deselected(items=drop)
        items[:] = keep
        for problem in self.problems:
            self.emit({"type": "grader_error", "message": problem})
        self.emit({"type": "collected", "tests": [t.to_json() for t in self.expected.values()]})

    # -- results ---------------------------------------------------------------------------
    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo):
        outcome = yield
        report = outcome.get_result()
        phases = item.stash.setdefault(_VERDICT, [])
        exc = call.excinfo.value if call.excinfo is not None else None
        skipped = str(getattr(exc, "msg", "") or "not graded") if report.skipped else None
        verdict = classify(None if skipped else exc, skipped)
        if self.cfg.debug and exc is not None and not skipped and (verdict[2] or verdict[1].startswith(UNUSABLE_VALUE)):
            verdict = (verdict[0], verdict[1][:FEEDBACK_CAP - 2600] + "\n" + debug_detail(exc), verdict[2])
        phases.append((verdict, call.duration))
        if call.when == "teardown":
            self.finish(item, phases)

    def finish(self, item: pytest.Item, phases: list) -> None:
        base = self.expected.get(item.nodeid)
        if base is None:
            return
        verdicts = [v for v, _ in phases]
        outcome, feedback, grader_error = next(
            (v for v in verdicts if v[0] is not Outcome.PASSED), verdicts[0])
        if outcome is Outcome.PASSED:  # a passing test may leave a note: record_property("feedback", ...)
            feedback = "\n".join(str(v) for k, v in item.user_properties if k == "feedback")
        client = item.stash.get(_CLIENT, None)
        if (client is not None and outcome is not Outcome.PASSED
                and self.cfg.visibility == Visibility.VISIBLE.value):
            printed = "\n".join(line for line in client.printed().strip().splitlines()
                                 if not line.startswith(_ENVIRONMENT_NOISE)).strip()
            if printed:
                feedback += "\nyour code printed (last lines):\n" + "\n".join(printed.splitlines()[-15:])
        result = TestResult(
            exercise=base.exercise, id=base.id, name=base.name, outcome=outcome,
            score=base.max_score if outcome is Outcome.PASSED else 0.0, max_score=base.max_score,
            feedback=feedback[:FEEDBACK_CAP], duration=sum(d for _, d in phases),
            visibility=base.visibility, grader_error=grader_error)
        if item.get_closest_marker("time_limit") is None:  # tests with limits of their own (accuracy) apart
            self.spent[base.exercise] = self.spent.get(base.exercise, 0.0) + result.duration
        self.emit({"type": "result", **result.to_json()})

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        # The zygote (and its cgroup) ends before "done": the parent kills this process the moment
        # it reads "done", before any ``finally`` here could remove the cgroup.
        if self.zygote is not None:
            try:
                self.zygote.stop()
            except Exception:  # pragma: no cover - never keep the results back
                pass
        self.emit({"type": "done", "time": time.time()})
