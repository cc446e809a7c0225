"""The trusted test process: ``python -I -m autograder.trusted CONFIG_JSON``.

It imports torch and torchvision once, forks the worker zygote *before* anything secret is loaded
(no hidden test, no reference solution is in memory yet), then runs pytest on the suite with the
grading plugin, locked down: no plugin autoload, no cache, no ini file or conftest from outside
the suite, plain asserts (so feedback is the test's message, never its source). It never imports
the student's code. Results go to the parent as JSON lines on the file descriptor it was given.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass, field

ZYGOTE_MB = 1536  # what a zygote holds (torch, torchvision) on top of the worker's memory limit
MAX_PIDS = 256  # processes in a submission's cgroup (a fork bomb stops here, root or not)

__all__ = ["TrustedConfig", "ExerciseLimits", "main", "run_suite", "lock_down_pytest", "pytest_args"]


@dataclass(frozen=True)
class ExerciseLimits:
    call_seconds: float
    test_seconds: float
    run_seconds: float = 0.0  # all of the exercise's tests together (0: no limit of its own)


@dataclass(frozen=True)
class TrustedConfig:
    tests_dir: str
    modules_dir: str  # pristine copies of the submission's exercise modules
    scratch_dir: str  # workers' private folders and the pytest ini live here
    exercises: tuple[str, ...]  # selected for this run
    all_exercises: tuple[str, ...]  # every exercise of the manifest
    modules: tuple[str, ...] = ()  # every exercise module name of the manifest ("ex2_lenet")
    limits: dict[str, ExerciseLimits] = field(default_factory=dict)
    solutions_dir: str | None = None
    visibility: str = "visible"
    memory_mb: int = 4096
    result_fd: int = -1
    mode: str = "worker"  # "direct" imports the student's code here: benchmarks only, never grading
    profile: str = "auto"  # accuracy profile: "cpu", "gpu", or "auto" (gpu when CUDA is available)
    data_dir: str | None = None  # CIFAR-10 for the accuracy tests
    cache_dir: str | None = None  # where decoded CIFAR-10 tensors are cached
    sandbox: dict = field(default_factory=lambda: {"mode": "none", "reason": "not configured"})
    cgroup: dict | None = None  # the zygote's cgroup, made by the parent (Cgroup.to_json); None: make one
    first_failure: bool = False  # stop at the first failed test (grade verify: is a mutant caught at all?)
    debug: bool = False  # add the trusted-side traceback to grader errors (grade check --debug, grade verify)

    def limits_for(self, exercise: str | None) -> ExerciseLimits:
        return self.limits.get(exercise or "", ExerciseLimits(30.0, 120.0))

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "TrustedConfig":
        data = json.loads(text)
        data["exercises"] = tuple(data["exercises"])
        data["all_exercises"] = tuple(data["all_exercises"])
        data["modules"] = tuple(data["modules"])
        data["limits"] = {k: ExerciseLimits(**v) for k, v in data["limits"].items()}
        return cls(**data)


def pytest_args(cfg: TrustedConfig, ini_path: str) -> list[str]:
    return [cfg.tests_dir, "-c", ini_path, "--rootdir", cfg.tests_dir, "--confcutdir", cfg.tests_dir,
            "-o", "addopts=", "-p", "no:cacheprovider", "-p", "no:stepwise", "--assert=plain",
            # --tb=native: the grade reads each exception itself; pytest's own long tracebacks
            # parse the test file's source for every frame (seconds for a failing submission)
            "-q", "--no-header", "--tb=native", "-W", "ignore::DeprecationWarning", "--import-mode=prepend",
            "--continue-on-collection-errors"] + (["--maxfail=1"] if cfg.first_failure else [])


def lock_down_pytest() -> None:
    """No plugin autoload, no options or plugins from the environment (call before importing pytest)."""
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.pop("PYTEST_ADDOPTS", None)
    os.environ.pop("PYTEST_PLUGINS", None)


def run_suite(cfg: TrustedConfig, zygote) -> int:
    """Run the suite with the grading plugin, streaming results to ``cfg.result_fd``."""
    import pytest

    from autograder.plugin import GradingPlugin

    ini = os.path.join(cfg.scratch_dir, "pytest.ini")
    with open(ini, "w") as fh:
        fh.write("[pytest]\n")
    stream = os.fdopen(cfg.result_fd, "w", buffering=1)
    plugin = GradingPlugin(cfg, zygote, stream)
    return int(pytest.main(pytest_args(cfg, ini), plugins=[plugin]))


def submission_cgroup(memory_mb: int):
    """A cgroup for one submission's zygote tree (None where cgroups are not writable)."""
    from autograder.cgroups import Cgroup

    return Cgroup.create((memory_mb + ZYGOTE_MB) * 2**20, MAX_PIDS)


def start_zygote(cfg: TrustedConfig):
    """The submission's worker zygote: sandboxed as ``cfg.sandbox`` says, in its own cgroup where
    one can be made (memory: the zygote's own plus ``memory_mb``; processes: ``MAX_PIDS``)."""
    from autograder.cgroups import Cgroup
    from autograder.sandbox import Sandbox
    from autograder.worker import WorkerSettings
    from autograder.zygote import Zygote

    cgroup = (Cgroup.from_json(cfg.cgroup) if cfg.cgroup is not None
              else submission_cgroup(cfg.memory_mb))
    return Zygote.start(WorkerSettings(cfg.modules_dir, cfg.scratch_dir, cfg.memory_mb),
                        Sandbox.from_json(cfg.sandbox), cgroup)


def main(argv: list[str]) -> int:
    cfg = TrustedConfig.from_json(argv[0])
    sandboxed = cfg.sandbox.get("mode") == "bwrap"
    zygote = start_zygote(cfg) if cfg.mode == "worker" and sandboxed else None  # imports torch itself
    import torch  # the one import both sides share (unless the zygote is sandboxed)
    import torchvision  # noqa: F401  (imported once here, so every worker inherits it)

    if cfg.mode == "worker" and zygote is None:
        zygote = start_zygote(cfg)

    # The trusted side computes small reference values; one thread avoids oversubscribing the
    # cores that the workers (and, in batch grading, other submissions) use.
    torch.set_num_threads(1)
    # Only now may secrets be loaded: the zygote holds none of them.
    lock_down_pytest()
    try:
        return run_suite(cfg, zygote)
    finally:
        if zygote is not None:
            zygote.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
