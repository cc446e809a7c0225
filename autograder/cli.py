"""The ``grade`` command: wires typer commands to the Python API, nothing more."""

from __future__ import annotations

import enum
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from autograder.manifest import Manifest, ManifestError, find_manifest, load_manifest
from autograder.mutants import MutantError
from autograder.reporters import Format, live_line, render
from autograder.runner import GradeInputError, grade

app = typer.Typer(help="Grade CNN image-classification exercises with isolated, hidden test suites.",
                  no_args_is_help=True, add_completion=False)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class Profile(str, enum.Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class ExitCode(enum.IntEnum):
    OK = 0  # every graded test passed / every verify check held
    TESTS_FAILED = 1  # some test failed (the student's code), or a verify check failed
    USAGE = 2  # bad command line, missing folder, malformed manifest
    GRADER_ERROR = 3  # the grader itself failed (a broken hidden test, a crashed test process)


def _manifest(manifest: Optional[Path], *starts: Path) -> Manifest:
    try:
        return load_manifest(manifest if manifest is not None else find_manifest(*starts))
    except ManifestError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(ExitCode.USAGE)


ManifestOpt = Annotated[Optional[Path], typer.Option(
    "--manifest", help="assignment.toml to use (default: found next to or above the tests folder).",
    exists=True, dir_okay=False)]


@app.command()
def check(
    exercises: Annotated[Optional[list[str]], typer.Argument(
        help="Exercises to grade, e.g. ex1 ex2 (names from the manifest).", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Grade every exercise of the manifest.")] = False,
    submission: Annotated[Path, typer.Option(
        help="Folder holding the exercise modules (only those files are used).",
        exists=True, file_okay=False)] = Path("."),
    tests: Annotated[Optional[Path], typer.Option(
        help="Test suite folder (default: SUBMISSION/tests, the public tests; point it at "
             "grading_tests for the hidden suites).", file_okay=False)] = None,
    manifest: ManifestOpt = None,
    format: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.text,
    profile: Annotated[Profile, typer.Option(
        help="Accuracy profile: cpu (LeNet, minutes on a laptop), gpu (all models), auto = gpu when CUDA "
             "is available.")] = Profile.auto,
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", envvar="CIFAR10_DIR", file_okay=False,
        help="CIFAR-10 for the accuracy tests (default: $CIFAR10_DIR; without it they are not graded).")] = None,
    cache_dir: Annotated[Optional[Path], typer.Option(
        "--cache-dir", file_okay=False, help="Where decoded CIFAR-10 is cached (default: ~/.cache/cnn-autograder).")] = None,
) -> None:
    """Grade exercises of one submission and print per-test results and points."""
    if bool(exercises) == all_:
        err.print("[red]error:[/] name the exercises to grade (e.g. `grade check ex2`) or pass --all")
        raise typer.Exit(ExitCode.USAGE)
    tests = tests if tests is not None else submission / "tests"
    if not tests.is_dir():
        err.print(f"[red]error:[/] tests folder not found: {tests} (pass --tests)")
        raise typer.Exit(ExitCode.USAGE)
    man = _manifest(manifest, tests, submission)
    live = Console(stderr=True, highlight=False) if format is Format.text and sys.stderr.isatty() else None
    try:
        report = grade(submission, tests, man, None if all_ else exercises,
                       on_result=(lambda t: live.print(live_line(t))) if live else None,
                       profile=profile.value, data_dir=data_dir, cache_dir=cache_dir)
    except GradeInputError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(ExitCode.USAGE)
    if live:
        live.print()
    render(report, format, sys.stdout)
    if report.has_grader_error:
        raise typer.Exit(ExitCode.GRADER_ERROR)
    raise typer.Exit(ExitCode.OK if report.all_passed else ExitCode.TESTS_FAILED)


@app.command()
def verify(
    exercises: Annotated[Optional[list[str]], typer.Argument(
        help="Only these exercises (default: all).", show_default=False)] = None,
    manifest: ManifestOpt = None,
    jobs: Annotated[int, typer.Option("--jobs", "-j", min=1, help="Gradings to run at once.")] = os.cpu_count() or 1,
) -> None:
    """Prove the suites: solutions score 100%, the template 0, every mutant loses points."""
    from autograder.verify import verify as run_verify

    man = _manifest(manifest, Path.cwd())
    try:
        checks = run_verify(man, jobs=jobs, exercises=exercises, on_check=lambda c: err.print(
            f"  {'[green]ok[/]' if c.ok else '[red]FAIL[/]'} {c.subject} ({c.suite})"))
    except (MutantError, ValueError) as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(ExitCode.USAGE)
    table = Table(title=f"grade verify: {man.title}")
    for column in ("subject", "suite", "exercises", "expected", "score", "result", "detail"):
        table.add_column(column, overflow="fold")
    for c in checks:
        table.add_row(c.subject, c.suite, " ".join(c.exercises), c.expectation,
                      f"{c.score:g}/{c.max_score:g}", "[green]ok[/]" if c.ok else "[red]FAIL[/]", c.detail)
    Console(highlight=False, width=200).print(table)
    failed = [c for c in checks if not c.ok]
    print(f"{len(checks) - len(failed)}/{len(checks)} checks hold")
    raise typer.Exit(ExitCode.TESTS_FAILED if failed else ExitCode.OK)


data_app = typer.Typer(help="Find, download and cache CIFAR-10 for the accuracy tests.", no_args_is_help=True)
app.add_typer(data_app, name="data")

DataDirOpt = Annotated[Optional[Path], typer.Option(
    "--data-dir", help="CIFAR-10 folder (default: the CIFAR10_DIR environment variable).", file_okay=False)]
CacheDirOpt = Annotated[Optional[Path], typer.Option(
    "--cache-dir", help="Where decoded tensors are cached (default: ~/.cache/cnn-autograder).", file_okay=False)]


@data_app.command("info")
def data_info(data_dir: DataDirOpt = None, cache_dir: CacheDirOpt = None) -> None:
    """Say where CIFAR-10 was looked for, which layout was found, and whether it is cached."""
    from autograder.data import DataError, data_dir_from_env, describe

    root = data_dir or data_dir_from_env()
    if root is None:
        err.print("[red]error:[/] no data folder given: pass --data-dir or set CIFAR10_DIR")
        raise typer.Exit(ExitCode.USAGE)
    try:
        for line in describe(root, cache_dir):
            print(line)
    except DataError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(ExitCode.USAGE)


@data_app.command("download")
def data_download(root: Annotated[Path, typer.Option(
        "--root", help="Folder to download into (torchvision's layout; checksums verified).",
        file_okay=False)]) -> None:
    """Download CIFAR-10 with torchvision (MD5-verified) into ROOT."""
    from autograder.data import DataError, download

    try:
        source = download(root)
    except DataError as exc:
        err.print(f"[red]error:[/] {exc}")
        raise typer.Exit(ExitCode.GRADER_ERROR)
    print(f"CIFAR-10 ready: {source.layout.value} at {source.root}")


if __name__ == "__main__":  # pragma: no cover
    app()
