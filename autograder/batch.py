"""Batch grading for TAs: every submission of a folder (or zip export), in parallel, resumable.

Each submission is graded by :func:`autograder.runner.grade` (the same runner as ``grade check``,
so a student's check and the official grade never disagree), ``jobs`` at a time, with trusted
test processes forked from one warm server or sent to a Dask cluster (:mod:`autograder.engines`). Every result is
written atomically the moment it is known (``results/<student>.json`` with the cache key, then
``feedback/<student>.md``), so an interrupted batch (Ctrl-C, kill -9) loses nothing already graded
and the next run grades only what is missing or changed. ``grades.csv`` and ``summary.html`` (plots
and the table, :mod:`autograder.summary`) are rewritten at the end.
"""

from __future__ import annotations

import csv
import enum
import hashlib
import io
import json
import os
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

from autograder import __version__
from autograder.manifest import Manifest
from autograder.reporters import submission_notes
from autograder.results import Outcome, Report, TestResult
from autograder.engines import DaskGrader, Engine, GradeTask, LocalGrader
from autograder.runner import GradeInputError, check_paths
from autograder.submissions import Submission, discover

__all__ = ["RowStatus", "BatchRow", "BatchOptions", "grade_batch", "cache_key", "write_atomic"]


class RowStatus(str, enum.Enum):
    GRADED = "graded"
    UNREADABLE = "unreadable"  # the submission could not be read (bad zip, no module found)
    GRADER_ERROR = "grader_error"  # the grader failed; the points may be incomplete


@dataclass(frozen=True)
class BatchRow:
    student: str
    status: RowStatus
    reason: str
    report: Report | None
    cached: bool = False
    source: str = ""  # the folder, zip or file it came from, as the TA's folder names it

    def points(self, exercise: str) -> float:
        if self.report is None:
            return 0.0
        return sum(t.score for t in self.report.tests if t.exercise == exercise)

    @property
    def total(self) -> float:
        return self.report.score if self.report else 0.0

    @property
    def max_score(self) -> float:
        return self.report.max_score if self.report else 0.0


@dataclass(frozen=True)
class BatchOptions:
    tests: Path
    exercises: tuple[str, ...]
    jobs: int = 2
    profile: str = "auto"
    data_dir: Path | None = None
    cache_dir: Path | None = None
    engine: Engine = Engine.auto
    cluster: str | None = None  # a Dask scheduler address: grade there instead of here
    sandbox: str = "auto"  # auto, ns, bwrap or none (autograder.sandbox)


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` so that a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)


def _digest_files(digest: "hashlib._Hash", root: Path, paths: Sequence[Path]) -> None:
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
        digest.update(b"\0")


def _code_files(folder: Path) -> list[Path]:
    """Every code file the staging could pick (a module one folder down, or under a near name):
    at the top of ``folder`` and one folder down, hidden folders (``.git``) and links left out."""
    top = [p for p in folder.iterdir() if not p.name.startswith(".")]
    below = [q for d in top if d.is_dir() and not d.is_symlink() for q in d.iterdir() if not q.name.startswith(".")]
    return [p for p in top + below if p.suffix in (".py", ".ipynb", ".txt") and p.is_file() and not p.is_symlink()]


def cache_key(submission: Submission, manifest: Manifest, options: BatchOptions) -> str:
    """Changes whenever the submission's exercise modules, the tests, the manifest or the options do."""
    digest = hashlib.sha256(f"{__version__}\0{options.exercises}\0{options.profile}\0{options.data_dir}\0"
                            f"{options.sandbox}\0".encode())
    folder = submission.folder
    _digest_files(digest, folder, _code_files(folder) + [folder / m for m in manifest.modules
                                                          if not (folder / m).exists()])
    tests = Path(options.tests)
    _digest_files(digest, tests, [p for p in tests.rglob("*") if p.suffix in (".py", ".toml") and p.is_file()])
    if manifest.solutions is not None:
        _digest_files(digest, manifest.solutions, list(manifest.solutions.glob("*.py")))
    digest.update(manifest.path.read_bytes())
    return digest.hexdigest()


def _reason(report: Report) -> tuple[RowStatus, str]:
    if report.has_grader_error:
        errors = list(report.grader_errors) + [f"{t.name}: grader error" for t in report.tests if t.grader_error]
        return RowStatus.GRADER_ERROR, "grader error: " + "; ".join(errors)[:300]
    notes = []
    for outcome in (Outcome.TIMEOUT, Outcome.ERROR, Outcome.NOT_IMPLEMENTED):
        tests = [t for t in report.tests if t.outcome is outcome]
        if tests:
            first = tests[0].feedback.splitlines()[0] if tests[0].feedback else ""
            kind = ("not implemented" if outcome is Outcome.NOT_IMPLEMENTED
                    else f"{outcome.value}{'s' if len(tests) > 1 else ''}")
            notes.append(f"{len(tests)} {kind} ({first[:160]})")
    if report.meta.get("files"):  # the latest attempt graded, a backup/ left aside, a file renamed
        notes.append(report.meta["files"][:300])
    if report.meta.get("ignored_files"):
        notes.append(f"ignored files: {report.meta['ignored_files']}")
    return RowStatus.GRADED, "; ".join(notes)


def _block(text: str) -> list[str]:
    return ["", "  ```", *[f"  {line}" for line in text.splitlines()], "  ```", ""]


def _feedback_markdown(student: str, report: Report) -> str:
    lines = [f"# Feedback for {student}", "", f"**Total: {report.score:g} / {report.max_score:g}**", ""]
    for total in report.by_exercise():
        lines += [f"## {total.exercise}: {total.score:g} / {total.max_score:g}", ""]
        tests = [t for t in report.tests if t.exercise == total.exercise]
        common = report.common_failure(total.exercise)
        if common:  # a missing module or an import error: once, not once per test
            first = next(t.feedback for t in tests if t.graded)
            lines += [f"Every test of {total.exercise} failed the same way:", *_block(first)[1:]]
        for test in tests:
            if not test.graded:
                lines.append(f"- `{test.name}`: not graded in this run, not counted in "
                             f"your total ({(test.feedback.splitlines() or [''])[0]})")
                continue
            lines.append(f"- {test.outcome.mark} `{test.name}` ({test.score:g}/{test.max_score:g}, {test.outcome.value})")
            if test.feedback and not common:
                lines += _block(test.feedback)
        lines.append("")
    for note in report.not_run:
        lines.append(f"> {note}")
    lines += [f"> {note}" for note in submission_notes(report)]
    return "\n".join(lines) + "\n"


def _load_cached(path: Path, key: str) -> Report | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("cache_key") != key:
            return None
        return Report(exercises=tuple(data["exercise_names"]), tests=tuple(TestResult.from_json(t) for t in data["tests"]),
                      grader_errors=tuple(data.get("grader_errors", ())), not_run=tuple(data.get("not_run", ())),
                      duration=float(data.get("duration", 0.0)), meta=dict(data.get("meta", {})))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _record(sub: Submission, report: Report, key: str, out: Path) -> BatchRow:
    if sub.notes and "notebook" not in report.meta:  # which notebook cells became which module
        report = replace(report, meta={**report.meta, "notebook": "; ".join(sub.notes)[:2000]})
    if sub.file_notes:  # which of the student's files were graded (the latest attempt, not backup/)
        files = "; ".join([*sub.file_notes, *filter(None, [report.meta.get("files")])])[:2000]
        report = replace(report, meta={**report.meta, "files": files})
    # the same contract as `grade check --format json`, plus what resuming needs
    data = {**report.to_json(), "exercise_names": list(report.exercises), "cache_key": key}
    write_atomic(out / "results" / f"{sub.name}.json", json.dumps(data, indent=2))
    write_atomic(out / "feedback" / f"{sub.name}.md", _feedback_markdown(sub.name, report))
    status, reason = _reason(report)
    return BatchRow(sub.name, status, reason, report, source=sub.source.name)


def _from_cache(sub: Submission, key: str, out: Path) -> BatchRow | None:
    cached = _load_cached(out / "results" / f"{sub.name}.json", key)
    if cached is None:
        return None
    status, reason = _reason(cached)
    return BatchRow(sub.name, status, reason, cached, cached=True, source=sub.source.name)


def _gradebook(rows: Sequence[BatchRow], exercises: Sequence[str]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["student", *exercises, "total", "max", "status", "reason", "source"])
    for row in sorted(rows, key=lambda r: r.student):
        points = [f"{row.points(e):g}" for e in exercises]
        writer.writerow([row.student, *points, f"{row.total:g}", f"{row.max_score:g}", row.status.value, row.reason,
                         row.source])
    return buffer.getvalue()


def _set_aside_stale(out: Path, students: set[str]) -> list[str]:
    """Move the results and feedback of students no longer among the submissions (a withdrawn
    student, a renamed folder) to ``out/stale/``: kept, not deleted, and out of ``feedback/``, which
    a TA hands out as it is. Returns their names."""
    moved = set()
    for kind, suffix in (("results", ".json"), ("feedback", ".md")):
        folder = out / kind
        for path in sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []:
            student = path.name[:-len(suffix)]
            if student not in students and path.is_file():
                (out / "stale" / kind).mkdir(parents=True, exist_ok=True)
                os.replace(path, out / "stale" / kind / path.name)
                moved.add(student)
    return sorted(moved)


def grade_batch(submissions: Path, out: Path, manifest: Manifest, options: BatchOptions,
                on_row: Callable[[BatchRow], None] | None = None,
                on_start: Callable[[int], None] | None = None,
                on_note: Callable[[str], None] | None = None) -> list[BatchRow]:
    """Grade every submission under ``submissions`` into ``out``; the Python API of ``grade batch``.

    ``on_row`` sees each row as it is known, ``on_note`` what the engine has to say (the server
    starting, the reference losing points in the warm-up, a fallback to fresh processes)."""
    out = Path(out)
    if not Path(options.tests).is_dir():
        raise GradeInputError(f"tests folder not found: {options.tests}")
    check_paths(manifest)  # before anything is written: a typo in the manifest is not 300 students' zero
    out.mkdir(parents=True, exist_ok=True)
    found = discover(Path(submissions), manifest.modules, out / ".unpacked", exclude=[out])
    if not found:
        raise GradeInputError(f"no submissions in {submissions}: expected one folder, zip or notebook per "
                              "student, or an LMS export")
    if on_start is not None:
        on_start(len(found))
    rows: list[BatchRow] = []

    def done(row: BatchRow) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    todo: list[tuple[Submission, str]] = []
    for sub in found:
        if not sub.readable:  # the student still hears why: their feedback file says it
            write_atomic(out / "feedback" / f"{sub.name}.md",
                         f"# Feedback for {sub.name}\n\n**Not graded: your submission could not be read.**\n\n"
                         f"> {sub.problem}\n")
            done(BatchRow(sub.name, RowStatus.UNREADABLE, sub.problem, None, source=sub.source.name))
            continue
        key = cache_key(sub, manifest, options)
        row = _from_cache(sub, key, out)
        if row is not None:
            done(row)
        else:
            todo.append((sub, key))
    tasks = [GradeTask(sub.folder, Path(options.tests), manifest, options.exercises, options.profile,
                       options.data_dir, options.cache_dir, options.sandbox) for sub, _ in todo]
    by_folder = {sub.folder: (sub, key) for sub, key in todo}
    grader = (DaskGrader(options.cluster, on_note) if options.cluster
              else LocalGrader(options.engine, options.jobs, on_note))
    try:
        for task, report in grader.grade_all(tasks):
            sub, key = by_folder[task.folder]
            done(_record(sub, report, key, out))
    finally:
        grader.close()
    write_atomic(out / "grades.csv", _gradebook(rows, options.exercises))
    gone = _set_aside_stale(out, {sub.name for sub in found})
    if gone and on_note is not None:
        on_note(f"{len(gone)} student(s) of an earlier run are no longer among the submissions "
                f"({', '.join(gone[:5])}{', ...' if len(gone) > 5 else ''}): their results and feedback "
                f"moved to {out / 'stale'}")
    from autograder.summary import render_summary  # here, not at the top: summary imports this module
    write_atomic(out / "summary.html", render_summary(rows, options.exercises, manifest.title))
    return sorted(rows, key=lambda r: r.student)
