"""Batch throughput: the warm grading server vs one fresh test process per submission.

Grades the same generated batch twice in one run, ``--jobs`` at a time, with the hidden suites:
``--engine fresh`` (a new ``python -I -m autograder.trusted`` process, which is pytest.main plus the
worker zygote, per submission: the interpreter, torch, pytest, hypothesis, the suites and the
reference loaded every time) and ``--engine server`` (forked from one warm server, its warm-up
included in the time). Prints submissions per minute, the ratio, and the peak memory of the whole
process tree (PSS: pages shared by forked processes counted once, split between them; RSS summed
for comparison), sampled every 0.2 s.

    python benchmarks/bench_batch.py --count 8 --jobs 2
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder.batch import BatchOptions, grade_batch  # noqa: E402
from autograder.engines import Engine  # noqa: E402
from autograder.manifest import load_manifest  # noqa: E402
from autograder.mutants import load_mutants, materialize  # noqa: E402


def make_batch(root: Path, count: int, manifest) -> None:
    """A realistic mix: correct (two styles), partly wrong (mutants, examples/partial), broken, untouched."""
    mutants = load_mutants(manifest.mutants)
    kinds = ["solutions", "correct", "mutant", "partial", "mutant", "broken", "solutions", "template"]
    for i in range(count):
        kind, folder = kinds[i % len(kinds)], root / f"student-{i:03d}"
        if kind == "solutions":
            shutil.copytree(REPO / "solutions", folder)
        elif kind == "template":
            shutil.copytree(REPO / "student_template", folder, ignore=shutil.ignore_patterns("tests", ".github"))
        elif kind == "mutant":
            materialize(mutants[(i * 7) % len(mutants)], manifest.solutions, folder)
        else:
            shutil.copytree(REPO / "examples" / kind, folder)
        for py in folder.glob("ex*.py"):  # distinct content: no two students share a cache entry
            py.write_text(f"# student {i}\n" + py.read_text())


def _tree(pid: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents.setdefault(int(fh.read().rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    found, todo = [pid], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _memory_kb(pid: int) -> tuple[int, int]:
    """(PSS, RSS) in kB of one process, (0, 0) when it is gone."""
    pss = rss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as fh:
            for line in fh:
                if line.startswith("Pss:"):
                    pss = int(line.split()[1])
                elif line.startswith("Rss:"):
                    rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


class PeakMemory:
    def __init__(self):
        self.pss = self.rss = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            totals = [_memory_kb(p) for p in _tree(os.getpid())]
            self.pss = max(self.pss, sum(t[0] for t in totals))
            self.rss = max(self.rss, sum(t[1] for t in totals))

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def busy_cpu_seconds() -> float:
    """CPU time the whole machine has spent busy (all cores, user and system), from /proc/stat."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:]]
    except OSError:
        return float("nan")
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run(engine: Engine, subs: Path, out: Path, manifest, jobs: int, sandbox: str):
    """Grade the batch; returns (wall seconds, CPU seconds, memory, rows)."""
    options = BatchOptions(tests=manifest.hidden_tests, exercises=manifest.names, jobs=jobs, engine=engine,
                           sandbox=sandbox)
    notes: list[str] = []
    with PeakMemory() as memory:
        start, cpu_start = time.perf_counter(), busy_cpu_seconds()
        rows = grade_batch(subs, out, manifest, options, on_note=notes.append)
        seconds, cpu = time.perf_counter() - start, busy_cpu_seconds() - cpu_start
    for text in notes:
        if "ready in" in text:
            print(f"    ({text}: the warm-up, included in the time below; the other slots graded "
                  "with fresh processes meanwhile)")
    return seconds, cpu, memory, rows


def warm_up_cpu(manifest, sandbox: str) -> float:
    """CPU seconds of starting the warm server alone (it grades the reference once)."""
    from autograder.server import GradingServer

    start = busy_cpu_seconds()
    GradingServer.for_manifest(manifest, manifest.hidden_tests, sandbox=sandbox).stop()
    return busy_cpu_seconds() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=8, help="submissions in the generated batch")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="submissions graded at once")
    parser.add_argument("--sandbox", choices=["auto", "bwrap", "none"], default="none",
                        help="the same for both engines (default none: measures the engines alone)")
    args = parser.parse_args()
    manifest = load_manifest(REPO / "assignments" / "assignment.toml")
    os.environ.pop("CIFAR10_DIR", None)  # accuracy training is not what this measures
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        subs = Path(tmp) / "subs"
        subs.mkdir()
        make_batch(subs, args.count, manifest)
        print(f"{args.count} submissions, all six exercises, hidden suites, --jobs {args.jobs}, "
              f"--sandbox {args.sandbox}, {os.cpu_count()} cores")
        results = {}
        warm_up = warm_up_cpu(manifest, args.sandbox)
        print(f"  the server's warm-up alone: {warm_up:.1f} s of CPU (measured first, on its own)")
        for engine in (Engine.fresh, Engine.server):
            seconds, cpu, memory, rows = run(engine, subs, Path(tmp) / f"out-{engine.value}", manifest,
                                             args.jobs, args.sandbox)
            per = (cpu - (warm_up if engine is Engine.server else 0.0)) / args.count
            results[engine] = (seconds, rows, per)
            print(f"  {engine.value:6s}: {seconds:7.1f} s  {args.count / seconds * 60:6.1f} submissions/min  "
                  f"peak memory {memory.pss / 1024:7.0f} MB PSS ({memory.rss / 1024:7.0f} MB RSS summed)  "
                  f"CPU {per:5.1f} s per submission" + (" + the warm-up" if engine is Engine.server else ""))
        fresh, server = results[Engine.fresh], results[Engine.server]
        same = [(r.student, r.total) for r in fresh[1]] == [(r.student, r.total) for r in server[1]]
        print(f"  ratio (server vs fresh submissions/min): {fresh[0] / server[0]:.2f}x; "
              f"same points for every student: {same}")
        # What forking can win at most: the start-up each fresh process pays; the tests remain.
        print(f"  CPU per submission: the server saves {fresh[2] - server[2]:.1f} s of {fresh[2]:.1f} s (the "
              f"start-up); the tests' own {server[2]:.1f} s remain, so no warm server can beat "
              f"{fresh[2] / server[2]:.2f}x on this batch (warm-up excluded)")


if __name__ == "__main__":
    main()
