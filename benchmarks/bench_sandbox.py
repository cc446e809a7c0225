"""The sandbox's cost: the same batch graded with ``--sandbox none``, ``ns`` and ``bwrap``.

``ns`` forks each submission's worker zygote from the warm zygote and builds the
sandbox around it with a few system calls; with bubblewrap the zygote is a fresh interpreter inside
the sandbox, so each submission pays one extra torch import. Prints seconds per submission for
each mode that works here, in one run, and each sandbox's overhead ratio against ``none``.

    python benchmarks/bench_sandbox.py --count 6 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_batch import make_batch  # noqa: E402

from autograder.batch import BatchOptions, grade_batch  # noqa: E402
from autograder.engines import Engine  # noqa: E402
from autograder.manifest import load_manifest  # noqa: E402
from autograder.sandbox import SandboxUnavailable, choose  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=6, help="submissions in the generated batch")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="submissions graded at once")
    parser.add_argument("--engine", choices=[e.value for e in Engine], default="server")
    parser.add_argument("--modes", default="none,ns,bwrap", help="sandbox modes to time, none first")
    args = parser.parse_args()
    modes = []
    for mode in args.modes.split(","):
        try:
            choose(mode)
            modes.append(mode)
        except SandboxUnavailable as exc:
            print(f"skipped: {exc}")
    if modes[:1] != ["none"] or len(modes) < 2:
        sys.exit("nothing to compare: no sandbox works here")
    manifest = load_manifest(REPO / "assignments" / "assignment.toml")
    os.environ.pop("CIFAR10_DIR", None)
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as tmp:
        subs = Path(tmp) / "subs"
        subs.mkdir()
        make_batch(subs, args.count, manifest)
        print(f"{args.count} submissions, all six exercises, --engine {args.engine}, --jobs {args.jobs}")
        seconds = {}
        for mode in modes:
            options = BatchOptions(tests=manifest.hidden_tests, exercises=manifest.names, jobs=args.jobs,
                                   engine=Engine(args.engine), sandbox=mode)
            start = time.perf_counter()
            rows = grade_batch(subs, Path(tmp) / f"out-{mode}", manifest, options)
            seconds[mode] = time.perf_counter() - start
            points = sum(r.total for r in rows)
            print(f"  --sandbox {mode:5s}: {seconds[mode]:6.1f} s, {seconds[mode] / args.count:5.1f} s per "
                  f"submission, {points:g} points in all")
        for mode in modes[1:]:
            print(f"  {mode} overhead: {seconds[mode] / seconds['none']:.2f}x "
                  f"({(seconds[mode] - seconds['none']) / args.count:+.1f} s per submission)")


if __name__ == "__main__":
    main()
