"""The ``grade`` command: wires typer commands to the Python API, nothing more."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from autograder.cli_common import ExitCode, ManifestOpt, Profile, SandboxOpt, err, error, load_manifest_or_exit
from autograder.cli_more import data_app, export_app
from autograder.engines import SERVER_MIN_SUBMISSIONS, Engine
from autograder.manifest import ManifestError, find_manifest
from autograder.mutants import MutantError
from autograder.platforms import SubmissionContext
from autograder.reporters import Format, OutputError, pair_outputs, write_reports
from autograder.runner import GradeInputError, check_paths, grade
from autograder.sandbox import SandboxMode, SandboxUnavailable, choose
from autograder.similarity import DEFAULT_THRESHOLD

app = typer.Typer(help="Grade CNN image-classification exercises with isolated, hidden test suites.",
                  no_args_is_help=True, add_completion=False)
app.add_typer(data_app, name="data")
app.add_typer(export_app, name="export")


@app.command(epilog="Results: ✓ passed, ✗ failed (a check failed: the message says why), ! error (the code raised), "
                    "· not implemented yet, ⏱ timeout, - not graded (could not run here; not counted). Exit codes: 0 "
                    "every graded test passed, 1 some test did not, 2 usage error, 3 grader error.")
def check(
    exercises: Annotated[Optional[list[str]], typer.Argument(
        help="Exercises to grade, e.g. ex1 ex2 (names from the manifest).", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Grade every exercise of the manifest.")] = False,
    submission: Annotated[Path, typer.Option(
        help="Folder holding the exercise modules (only those files are used), or a .ipynb notebook.",
        exists=True)] = Path("."),
    tests: Annotated[Optional[Path], typer.Option(
        help="Test suite folder (default: SUBMISSION/tests, the public tests; point it at "
             "grading_tests for the hidden suites).", file_okay=False)] = None,
    manifest: ManifestOpt = None,
    format: Annotated[Optional[list[Format]], typer.Option(
        "--format", "-f", help="Output format; repeat it with one --output each to write several from one "
                               "grading run (junit, markdown, classroom and classroom50 are for CI).",
        show_default="text")] = None,
    output: Annotated[Optional[list[Path]], typer.Option(
        "--output", "-o", dir_okay=False, help="Write the matching --format (same order) to this file "
                                               "instead of stdout; - is stdout.", show_default=False)] = None,
    profile: Annotated[Profile, typer.Option(
        help="Accuracy profile: cpu (LeNet, minutes on a laptop), gpu (all models), auto = gpu when CUDA "
             "is available.")] = Profile.auto,
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", envvar="CIFAR10_DIR", file_okay=False,
        help="CIFAR-10 for the accuracy tests (default: $CIFAR10_DIR; without it they are not graded).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(
        "--cache-dir", file_okay=False, help="Where decoded CIFAR-10 is cached (default: ~/.cache/cnn-autograder).")] = None,
    sandbox: SandboxOpt = SandboxMode.auto,
    debug: Annotated[bool, typer.Option(
        "--debug", help="For instructors writing tests: add the test's own traceback to grader errors and to "
                        "failures blamed on a value the code returned (it quotes the tests' source).")] = False,
) -> None:
    """Grade exercises of one submission and print per-test results and points."""
    if bool(exercises) == all_:
        err.print("[red]error:[/] name the exercises to grade (e.g. `grade check ex2`) or pass --all"
                  + (", not both" if all_ else ""))
        raise typer.Exit(ExitCode.USAGE)
    if submission == Path(".") and tests is None and not Path("tests").is_dir():
        submission = _repository_root() or submission  # run from a subfolder of the student's repo
    folder = submission.parent if submission.is_file() else submission  # a notebook's folder
    tests = tests if tests is not None else folder / "tests"
    if not tests.is_dir():
        error(f"tests folder not found: {tests} (pass --tests)")
        raise typer.Exit(ExitCode.USAGE)
    try:
        outputs = pair_outputs(format or [], output or [])
    except OutputError as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.USAGE)
    man = load_manifest_or_exit(manifest, tests, folder)
    exercises = [_exercise_name(man, e) for e in exercises or []]
    text_on_stdout = any(f is Format.text and str(p) == "-" for f, p in outputs)
    # on a terminal, one status line says how far grading is (long runs: training); it goes away
    # before the report, which lists every test once
    live = Console(stderr=True, highlight=False) if text_on_stdout and sys.stderr.isatty() else None
    done: list[str] = []
    with live.status("grading ...") if live else contextlib.nullcontext() as status:
        def on_result(test) -> None:
            done.append(test.name)
            status.update(f"grading: {len(done)} tests done; last {test.outcome.mark} {escape(test.name)}")

        try:
            report = grade(submission, tests, man, None if all_ else exercises,
                           on_result=on_result if live else None, profile=profile.value, data_dir=data_dir,
                           cache_dir=cache_dir, sandbox=sandbox, debug=debug)
        except (GradeInputError, SandboxUnavailable) as exc:
            error(str(exc))
            raise typer.Exit(ExitCode.USAGE)
    try:
        write_reports(report, outputs, SubmissionContext.from_env(os.environ, man.name))
    except OSError as exc:
        error(f"cannot write the report: {exc}")
        raise typer.Exit(ExitCode.USAGE)
    if report.has_grader_error:
        raise typer.Exit(ExitCode.GRADER_ERROR)
    raise typer.Exit(ExitCode.OK if report.all_passed else ExitCode.TESTS_FAILED)


def _repository_root() -> Path | None:
    """The folder above the current one that holds assignment.toml and tests/ (a student's repo)."""
    try:
        root = find_manifest(Path.cwd()).parent
    except ManifestError:
        return None
    return root if (root / "tests").is_dir() else None


def _exercise_name(man, given: str) -> str:
    """``ex2`` for ``ex2``, ``Ex2``, ``ex2_lenet`` or ``ex2_lenet.py``; anything else as given."""
    for ex in man.exercises:
        if given.lower() in (ex.name.lower(), ex.module.lower(), ex.module_name.lower()):
            return ex.name
    return given


@app.command()
def verify(
    exercises: Annotated[Optional[list[str]], typer.Argument(
        help="Only these exercises (default: all).", show_default=False)] = None,
    manifest: ManifestOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Gradings to run at once.")] = os.cpu_count() or 1,
    quick: Annotated[bool, typer.Option(
        "--quick", help="Stop grading each mutant at its first failed test: faster, and the table names "
                        "one test that catches it instead of all of them (its score counts the tests run).")] = False,
) -> None:
    """Prove the suites: solutions score 100%, the template 0, every mutant loses points."""
    from autograder.verify import verify as run_verify

    man = load_manifest_or_exit(manifest, Path.cwd())
    try:
        checks = run_verify(man, jobs=jobs, exercises=exercises, quick=quick, on_check=lambda c: err.print(
            f"  {'[green]ok[/]' if c.ok else '[red]FAIL[/]'} {c.subject} ({c.suite})"))
    except (MutantError, ValueError) as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.USAGE)
    table = Table(title=f"grade verify: {man.title}")
    score = "score (of the tests run)" if quick else "score"  # --quick stops a mutant at its first failure
    for column in ("subject", "suite", "exercises", "expected", score, "result", "detail"):
        table.add_column(column, overflow="fold")
    for c in checks:
        table.add_row(c.subject, c.suite, " ".join(c.exercises), c.expectation,
                      f"{c.score:g}/{c.max_score:g}", "[green]ok[/]" if c.ok else "[red]FAIL[/]", c.detail)
    Console(highlight=False, width=None if sys.stdout.isatty() else 200).print(table)
    failed = [c for c in checks if not c.ok]
    for c in failed:
        if c.debug:
            print(f"\n{c.subject} ({c.suite}): {c.debug}")
    print(f"{len(checks) - len(failed)}/{len(checks)} checks hold")
    raise typer.Exit(ExitCode.TESTS_FAILED if failed else ExitCode.OK)


@app.command()
def assign(
    out: Annotated[Optional[Path], typer.Option(
        "--out", file_okay=False, help="Folder to write the template into (default: the manifest's template "
                                       "folder, e.g. student_template).", show_default=False)] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing: list the files where the template (or --out) differs from what would "
                        "be generated and exit 1, or exit 0 when it is current (run it in CI).")] = False,
    manifest: ManifestOpt = None,
) -> None:
    """Build the student template from the solutions: stubs, manifest, CI workflow, public tests, README."""
    from autograder.assign import AssignError, check_template, write_template

    man = load_manifest_or_exit(manifest, Path.cwd())
    try:
        if check:
            differences = check_template(man, out)
        else:
            result = write_template(man, out)
    except AssignError as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.USAGE)
    folder = out if out is not None else man.template
    if check:
        for difference in differences:
            print(difference)
        if differences:
            error(f"{folder} differs from what `grade assign` generates ({len(differences)} files): run "
                  f"`grade assign`, delete the files it does not generate, and commit the result")
            raise typer.Exit(ExitCode.TESTS_FAILED)
        print(f"{folder} is up to date with the solutions and the manifest")
        raise typer.Exit(ExitCode.OK)
    for rel in result.written:
        print(f"wrote {folder / rel}")
    print(f"{folder}: {len(result.written)} files written, {len(result.unchanged)} unchanged")
    for rel in result.extra:
        err.print(f"[yellow]warning:[/] {escape(str(folder / rel))} is not part of the template: students "
                  f"would receive it (remove it unless you mean to)")


@app.command()
def batch(
    submissions: Annotated[Path, typer.Argument(
        help="Folder with one folder or zip per student, or an LMS export (a zip of zips).", exists=True)],
    out: Annotated[Path, typer.Option(help="Output folder: grades.csv, summary.html, results/, feedback/.", file_okay=False)],
    exercises: Annotated[Optional[list[str]], typer.Argument(
        help="Exercises to grade (default: all).", show_default=False)] = None,
    tests: Annotated[Optional[Path], typer.Option(
        help="Test suites (default: the manifest's hidden tests).", file_okay=False, exists=True)] = None,
    manifest: ManifestOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Submissions graded at once.")] = os.cpu_count() or 1,
    call_seconds: Annotated[Optional[float], typer.Option(help="Override: seconds per call into student code.")] = None,
    test_seconds: Annotated[Optional[float], typer.Option(help="Override: seconds per test.")] = None,
    run_seconds: Annotated[Optional[float], typer.Option(
        help="Override: seconds for a whole exercise of one submission.")] = None,
    memory_mb: Annotated[Optional[int], typer.Option(help="Override: worker memory limit in MB.")] = None,
    profile: Annotated[Profile, typer.Option(help="Accuracy profile (cpu, gpu, auto).")] = Profile.auto,
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", envvar="CIFAR10_DIR", file_okay=False, help="CIFAR-10 for the accuracy tests.")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(
        "--cache-dir", file_okay=False, help="Where decoded CIFAR-10 is cached (default: ~/.cache/cnn-autograder).")] = None,
    engine: Annotated[Engine, typer.Option(
        help="server: fork every submission's test process from one warm server (it grades the reference "
             "once first); fresh: a new process per submission; auto: server from "
             f"{SERVER_MIN_SUBMISSIONS} submissions on.")] = Engine.auto,
    cluster: Annotated[Optional[str], typer.Option(
        help="Dask scheduler address (tcp://host:8786): grade there; workers need the same paths. "
             "Needs pip install 'cnn-autograder\\[cluster]'.")] = None,
    sandbox: SandboxOpt = SandboxMode.auto,
) -> None:
    """Grade every submission in SUBMISSIONS in parallel; re-runs grade only what changed."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from autograder.batch import BatchOptions, RowStatus, grade_batch
    from autograder.engines import ClusterError
    from autograder.submissions import SubmissionError

    man = load_manifest_or_exit(manifest, Path.cwd()).with_limits(call_seconds=call_seconds, test_seconds=test_seconds,
                                                     run_seconds=run_seconds, memory_mb=memory_mb)
    suite = tests or man.hidden_tests
    if suite is None:
        error(f"{man.path} names no hidden_tests; pass --tests")
        raise typer.Exit(ExitCode.USAGE)
    unknown = [e for e in exercises or () if e not in man.names]
    if unknown:
        error(f"unknown exercise {', '.join(unknown)}; the manifest has {', '.join(man.names)}")
        raise typer.Exit(ExitCode.USAGE)
    try:
        if not suite.is_dir():
            raise GradeInputError(f"tests folder not found: {suite}")
        check_paths(man)
    except GradeInputError as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.USAGE)
    try:
        err.print(f"[dim]sandbox: {escape(choose(sandbox).description)}[/]")
    except SandboxUnavailable as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.USAGE)
    options = BatchOptions(tests=suite, exercises=tuple(exercises or man.names), jobs=jobs,
                           profile=profile.value, data_dir=data_dir, cache_dir=cache_dir, engine=engine, cluster=cluster,
                           sandbox=sandbox.value)
    with Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  TextColumn("{task.fields[last]}"), console=err, transient=False) as progress:
        task = progress.add_task("batch", total=None, last="")
        try:
            rows = grade_batch(submissions, out, man, options,
                               on_start=lambda n: progress.update(task, total=n),
                               on_row=lambda r: progress.update(task, advance=1, last=f"{r.student}: {r.status.value}"
                                                                + (" (cached)" if r.cached else "")),
                               on_note=lambda text: progress.console.print(f"[dim]{escape(text)}[/]"))
        except (SubmissionError, ClusterError, GradeInputError) as exc:
            error(str(exc))
            raise typer.Exit(ExitCode.USAGE)
        except KeyboardInterrupt:
            progress.stop()
            saved = len(list((out / "results").glob("*.json"))) if (out / "results").is_dir() else 0
            error(f"interrupted: the gradings in flight were stopped; {saved} result(s) are saved in "
                  f"{out / 'results'}. Run the same command again: it grades only what is missing")
            raise typer.Exit(130)
    counts = {s: sum(r.status is s for r in rows) for s in RowStatus}
    print(f"{len(rows)} submissions: " + ", ".join(f"{n} {s.value}" for s, n in counts.items() if n)
          + f"; {sum(r.cached for r in rows)} from the cache")
    print(f"gradebook: {out / 'grades.csv'}  summary: {out / 'summary.html'}  results: {out / 'results'}  "
          f"feedback: {out / 'feedback'}")
    raise typer.Exit(ExitCode.GRADER_ERROR if counts[RowStatus.GRADER_ERROR] else ExitCode.OK)


SHOWN_PAIRS = 40  # the most similar; the report and the CSV have them all


@app.command()
def similarity(
    submissions: Annotated[Path, typer.Argument(
        help="Folder with one folder (or zip) per student, e.g. the clones of every student's repo.",
        exists=True, metavar="SUBMISSIONS", show_default=False)],
    out: Annotated[Path, typer.Option(help="Output folder: similarity.html (open this), similarity.csv.",
                                      file_okay=False)],
    threshold: Annotated[float, typer.Option(
        min=0.0, max=1.0, help="Flag a pair when more than this share of either side's own code (starter "
                               "code excluded) is also in the other.")] = DEFAULT_THRESHOLD,
    manifest: ManifestOpt = None,
) -> None:
    """Flag pairs of submissions whose exercise code is suspiciously similar (starter code excluded)."""
    from autograder.similarity import SimilarityError, SimilarityUnavailable, find_similar

    man = load_manifest_or_exit(manifest, Path.cwd())
    try:
        report = find_similar(submissions, man, out, threshold)
    except (SimilarityError, SimilarityUnavailable) as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.USAGE)
    table = Table(title=f"grade similarity: pairs above {threshold:.0%}")
    for column in ("module", "first", "second", "first in second", "second in first"):
        table.add_column(column, overflow="fold")
    for p in report.flagged[:SHOWN_PAIRS]:
        table.add_row(escape(p.module), escape(p.first), escape(p.second), f"{p.first_similarity:.0%}",
                      f"{p.second_similarity:.0%}")
    Console(highlight=False, width=200).print(table)
    if len(report.flagged) > SHOWN_PAIRS:
        print(f"... and {len(report.flagged) - SHOWN_PAIRS} more flagged pairs (all in the report)")
    print(f"{len(report.submissions)} submissions, {len(report.pairs)} pairs compared, {len(report.flagged)} "
          f"flagged; {len(report.skipped)} module files or submissions not compared (listed in the report)")
    print(f"report: {report.html}  all pairs: {report.csv}")
    raise typer.Exit(ExitCode.OK)


if __name__ == "__main__":  # pragma: no cover
    app()
