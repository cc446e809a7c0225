"""How fast is `grade check`, and what does the trust boundary cost? Prints figures, asserts nothing.

    python benchmarks/bench_check.py [--runs 5]

Measured in one run, on this machine:
1. median wall time of ``python -c "import torch, torchvision"`` (the floor every grading pays);
2. median wall time of ``grade check ex2`` on the solution, public and hidden suites, and its ratio
   to (1);
3. the proxy layer's cost: the hidden suites run with the student's code called through the
   worker vs imported directly into the test process (``mode="direct"``, benchmarks only), as the
   sum of per-test durations (start-up excluded; only tests that pass both ways) and as whole-run
   wall time;
4. hidden tests, points and time per exercise.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.manifest import load_manifest  # noqa: E402
from autograder.results import Outcome  # noqa: E402
from autograder.runner import grade  # noqa: E402


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def median_wall(cmd: list[str], runs: int) -> float:
    return statistics.median(wall(cmd) for _ in range(runs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="repetitions per timing (median reported)")
    args = parser.parse_args()
    grade_cmd = [sys.executable, "-m", "autograder.cli", "check", "ex2", "--submission"]

    t_import = median_wall([sys.executable, "-c", "import torch, torchvision"], args.runs)
    t_public = median_wall(grade_cmd + ["solutions", "--tests", "student_template/tests"], args.runs)
    t_hidden = median_wall(grade_cmd + ["solutions", "--tests", "grading_tests"], args.runs)
    print(f"python -c 'import torch, torchvision'   median {t_import:6.2f} s  (runs={args.runs})")
    print(f"grade check ex2 (public tests)          median {t_public:6.2f} s  ratio {t_public / t_import:4.2f}x")
    print(f"grade check ex2 (hidden suite)          median {t_hidden:6.2f} s  ratio {t_hidden / t_import:4.2f}x")

    manifest = load_manifest(REPO / "assignments" / "assignment.toml")
    timings = {}
    for mode in ("worker", "direct"):
        start = time.perf_counter()
        report = grade(REPO / "solutions", REPO / "grading_tests", manifest, mode=mode)
        timings[mode] = (sum(t.duration for t in report.tests), time.perf_counter() - start, report)
    (_, w_wall, report), (_, d_wall, direct) = timings["worker"], timings["direct"]
    # Only tests that pass both ways: a test that fails in one mode stops early and costs less.
    passed = {t.id: t.duration for t in direct.tests if t.outcome is Outcome.PASSED}
    both = [t for t in report.tests if t.outcome is Outcome.PASSED and t.id in passed]
    w_tests, d_tests = sum(t.duration for t in both), sum(passed[t.id] for t in both)
    print(f"hidden suites, the {len(both)} of {len(report.tests)} tests that pass both ways: worker "
          f"{w_tests:6.2f} s  direct {d_tests:6.2f} s  proxy layer adds {w_tests - d_tests:+.2f} s "
          f"({w_tests / d_tests:4.2f}x)")
    print(f"hidden suites, whole run:  worker {w_wall:6.2f} s  direct {d_wall:6.2f} s")
    examples = count_examples(manifest)
    for ex in manifest.names:
        tests = [t for t in report.tests if t.exercise == ex]
        print(f"{ex}: {len(tests)} hidden tests, {sum(t.max_score for t in tests):g} points, "
              f"{sum(examples.get(t.id, 0) for t in tests)} hypothesis examples, "
              f"{sum(t.duration for t in tests):5.2f} s through the worker")


class _CountExamples:
    """Counts how often hypothesis runs each test's body (``inner_test`` is hypothesis's hook for
    plugins that wrap it)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def pytest_runtest_call(self, item) -> None:
        handle = getattr(getattr(item, "obj", None), "hypothesis", None)
        if handle is None:
            return
        inner, counts, nodeid = handle.inner_test, self.counts, item.nodeid

        def counted(*args, **kwargs):
            counts[nodeid] = counts.get(nodeid, 0) + 1
            return inner(*args, **kwargs)

        handle.inner_test = counted


def count_examples(manifest) -> dict[str, int]:
    """``{test id: hypothesis examples}`` over the hidden suites on the solution: one pytest run in
    this process (mode "direct", as the proxy comparison), with the grading plugin."""
    import pytest

    from autograder.plugin import GradingPlugin
    from autograder.results import Visibility
    from autograder.runner import stage_modules, trusted_config
    from autograder.trusted import pytest_args

    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        (scratch / "work").mkdir()
        stage_modules(REPO / "solutions", manifest, scratch / "modules")
        cfg = trusted_config(manifest, REPO / "grading_tests", manifest.names, scratch, -1,
                             Visibility.HIDDEN, mode="direct")
        ini = scratch / "pytest.ini"
        ini.write_text("[pytest]\n")
        counter = _CountExamples()
        with open(os.devnull, "w") as sink:
            stdout, sys.stdout = sys.stdout, sink
            try:
                pytest.main(pytest_args(cfg, str(ini)), plugins=[GradingPlugin(cfg, None, sink), counter])
            finally:
                sys.stdout = stdout
    return counter.counts

if __name__ == "__main__":
    main()
