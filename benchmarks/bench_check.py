"""How fast is `grade check`, and what does the trust boundary cost? Prints figures, asserts nothing.

    python benchmarks/bench_check.py [--runs 5]

Measured in one run, on this machine:
1. median wall time of ``python -c "import torch, torchvision"`` (the floor every grading pays);
2. median wall time of ``grade check ex2`` on the solution, public and hidden suites, and its ratio
   to (1);
3. the proxy layer's cost: the hidden suites run with the student's code called through the
   worker vs imported directly into the test process (``mode="direct"``, benchmarks only), as the
   sum of per-test durations (start-up excluded) and as whole-run wall time;
4. hidden tests and hypothesis examples per exercise (from hypothesis's observability records).
"""

from __future__ import annotations

import argparse
import collections
import json
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
    with tempfile.TemporaryDirectory() as storage:
        os.environ.update({"HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY": "1",
                           "HYPOTHESIS_EXPERIMENTAL_OBSERVABILITY_NOCOVER": "1",
                           "HYPOTHESIS_STORAGE_DIRECTORY": storage})
        timings = {}
        for mode in ("worker", "direct"):
            start = time.perf_counter()
            report = grade(REPO / "solutions", REPO / "grading_tests", manifest, mode=mode)
            timings[mode] = (sum(t.duration for t in report.tests), time.perf_counter() - start, report)
        examples: dict[str, int] = collections.Counter()
        for path in Path(storage).rglob("*.jsonl"):
            for line in path.read_text().splitlines():
                record = json.loads(line)
                if record.get("type") == "test_case" and record.get("status") != "gave_up":
                    examples[record.get("property", "?")] += 1
    (w_tests, w_wall, report), (d_tests, d_wall, _) = timings["worker"], timings["direct"]
    print(f"hidden suites, tests only: worker {w_tests:6.2f} s  direct {d_tests:6.2f} s  "
          f"proxy layer adds {w_tests - d_tests:+.2f} s ({w_tests / d_tests:4.2f}x)")
    print(f"hidden suites, whole run:  worker {w_wall:6.2f} s  direct {d_wall:6.2f} s")
    for ex in manifest.names:
        tests = [t for t in report.tests if t.exercise == ex]
        n_examples = sum(n for prop, n in examples.items() if any(prop.endswith(t.name) for t in tests)) // 2
        print(f"{ex}: {len(tests)} hidden tests, {sum(t.max_score for t in tests):g} points, "
              f"{n_examples} hypothesis examples per run")


if __name__ == "__main__":
    main()
