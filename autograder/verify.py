"""``grade verify``: prove the suites grade the way the instructor means.

* the solutions score 100% on the hidden suites (and on the public tests);
* the untouched template scores 0, every test ``not_implemented``, with no grader error;
* every mutant loses points on the exercise it breaks, without a grader error.
"""

from __future__ import annotations

import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from autograder.manifest import Manifest
from autograder.mutants import MutantError, load_mutants, materialize
from autograder.results import Outcome, Report
from autograder.engines import Engine, GradeTask, LocalGrader

__all__ = ["Check", "verify"]


@dataclass(frozen=True)
class Check:
    subject: str  # "solutions", "template" or the mutant's name
    suite: str  # "hidden" or "public"
    exercises: tuple[str, ...]
    expectation: str
    score: float
    max_score: float
    ok: bool
    detail: str = ""
    debug: str = ""  # a grader error's traceback in the tests (the instructor's to fix)


def _problems(report: Report) -> list[str]:
    problems = list(report.grader_errors)
    problems += [f"{t.name}: {t.feedback.splitlines()[0] if t.feedback else ''}"
                 for t in report.tests if t.grader_error]
    return problems


def _debug(report: Report) -> str:
    """The first grader error's feedback in full: with ``debug`` it ends in the test's traceback."""
    return next((f"{t.name}: {t.feedback}" for t in report.tests if t.grader_error), "")


def _full_marks(subject: str, suite: str, report: Report) -> Check:
    """Every graded test passed (tests not graded here, e.g. accuracy without data, are skipped)."""
    problems = _problems(report) + [f"{t.name}: {t.outcome.value}" for t in report.tests
                                    if t.outcome not in (Outcome.PASSED, Outcome.NOT_GRADED)]
    ok = not problems and report.tests != () and report.score == report.max_score
    return Check(subject, suite, report.exercises, "100%", report.score, report.max_score, ok,
                 "; ".join(problems)[:500], _debug(report))


def _all_not_implemented(subject: str, suite: str, report: Report) -> Check:
    problems = _problems(report) + [f"{t.name}: {t.outcome.value}" for t in report.tests
                                    if t.outcome not in (Outcome.NOT_IMPLEMENTED, Outcome.NOT_GRADED)]
    ok = not problems and report.tests != () and report.score == 0
    return Check(subject, suite, report.exercises, "0, all not implemented", report.score,
                 report.max_score, ok, "; ".join(problems)[:500], _debug(report))


def _caught(subject: str, description: str, report: Report) -> Check:
    problems = _problems(report)
    lost = [t.name for t in report.tests if t.outcome not in (Outcome.PASSED, Outcome.NOT_GRADED)]
    ok = not problems and report.score < report.max_score
    detail = "; ".join(problems) if problems else (
        f"caught by {', '.join(lost)}" if lost else "NOT caught: every test passed")
    return Check(subject, "hidden", report.exercises, f"loses points ({description})", report.score,
                 report.max_score, ok, detail[:500], _debug(report))


def verify(manifest: Manifest, jobs: int = 2, on_check: Callable[[Check], None] | None = None,
           exercises: Sequence[str] | None = None, quick: bool = False) -> list[Check]:
    """Run every check (in parallel, ``jobs`` at a time); the Python API behind ``grade verify``.
    ``exercises`` limits the checks (and the mutants) to those exercises; ``quick`` stops each
    mutant at its first failed test (it is caught; the others are not run)."""
    if manifest.solutions is None or manifest.hidden_tests is None or manifest.template is None:
        raise ValueError(f"{manifest.path}: [paths] needs solutions, template and hidden_tests for verify")
    chosen = list(exercises) if exercises else list(manifest.names)
    unknown = [e for e in chosen if e not in manifest.names]
    if unknown:
        raise ValueError(f"unknown exercise {', '.join(unknown)}; the manifest has {', '.join(manifest.names)}")

    every = load_mutants(manifest.mutants) if manifest.mutants else []
    strays = [m for m in every if m.exercise not in manifest.names]
    if strays:  # an exercise renamed or dropped: its mutants would go unchecked without a word
        raise MutantError(f"{strays[0].source}: mutant {strays[0].name!r} is for exercise {strays[0].exercise!r}, "
                          f"which the manifest does not have ({', '.join(manifest.names)}); "
                          f"{len(strays)} mutant(s) like it: rename their exercise or remove them")
    mutants = [m for m in every if m.exercise in chosen]
    scratch = tempfile.TemporaryDirectory(prefix="verify-")
    try:  # a mutant that no longer applies is reported before any grading starts
        folders = [materialize(m, manifest.solutions, Path(scratch.name) / m.name) for m in mutants]
    except BaseException:
        scratch.cleanup()
        raise

    # One warm server for the hidden suite (it grades the solutions first); the public suite,
    # graded twice, runs in fresh processes. Everything verify grades is the instructor's own code
    # (solutions, template, mutants of the solutions): no sandbox is needed, and none is paid for.
    grader = LocalGrader(Engine.server, jobs)
    grader.start_server(manifest, manifest.hidden_tests, chosen, sandbox="none")

    def run_suite(folder: Path, tests: Path, exercises: Sequence[str] = chosen, first_failure: bool = False) -> Report:
        return grader.grade_one(GradeTask(folder, tests, manifest, tuple(exercises), sandbox="none",
                                          first_failure=first_failure, debug=True))

    tasks: list[Callable[[], Check]] = [
        lambda: _full_marks("solutions", "hidden", run_suite(manifest.solutions, manifest.hidden_tests)),
        lambda: _all_not_implemented("template", "hidden", run_suite(manifest.template, manifest.hidden_tests)),
    ]
    if manifest.public_tests is not None:
        tasks += [
            lambda: _full_marks("solutions", "public", run_suite(manifest.solutions, manifest.public_tests)),
            lambda: _all_not_implemented("template", "public", run_suite(manifest.template, manifest.public_tests)),
        ]
    for mutant, folder in zip(mutants, folders):
        tasks.append(lambda m=mutant, f=folder: _caught(
            m.name, m.description, run_suite(f, manifest.hidden_tests, [m.exercise], first_failure=quick)))

    def run(task: Callable[[], Check]) -> Check:
        check = task()
        if on_check is not None:
            on_check(check)
        return check

    try:
        with scratch, ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(run, tasks))
    finally:
        grader.close()
