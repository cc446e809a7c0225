"""The ``grade data`` and ``grade export`` subcommands (wired into :mod:`autograder.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from autograder.cli_common import ExitCode, ManifestOpt, Profile, err, error, load_manifest_or_exit
from autograder.gradescope_results import GsVisibility

__all__ = ["data_app", "export_app"]

data_app = typer.Typer(help="Find, download and cache CIFAR-10 for the accuracy tests.", no_args_is_help=True)

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
        error(str(exc))
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
        error(str(exc))
        raise typer.Exit(ExitCode.GRADER_ERROR)
    print(f"CIFAR-10 ready: {source.layout.value} at {source.root}")


export_app = typer.Typer(help="Export the assignment to other grading platforms (Gradescope, otter-grader).",
                         no_args_is_help=True)

ExportExercisesOpt = Annotated[Optional[list[str]], typer.Option(
    "--exercise", "-e", help="Export only this exercise (repeat for several; default: every exercise).",
    show_default=False)]
ForceOpt = Annotated[bool, typer.Option("--force", help="Overwrite the output if it exists.")]


@export_app.command("gradescope")
def export_gradescope_cmd(
    out: Annotated[Path, typer.Argument(help="The autograder zip to write, e.g. autograder.zip.", dir_okay=False,
                                        show_default=False)],
    exercises: ExportExercisesOpt = None,
    manifest: ManifestOpt = None,
    visibility: Annotated[GsVisibility, typer.Option(
        help="Gradescope visibility of the hidden tests' results.")] = GsVisibility.after_published,
    profile: Annotated[Profile, typer.Option(help="Accuracy profile on the Gradescope image (cpu, gpu, auto).")]
    = Profile.auto,
    cifar10: Annotated[bool, typer.Option(
        "--cifar10/--no-cifar10", help="setup.sh downloads CIFAR-10 (MD5-verified) so accuracy is graded; "
                                       "without it the accuracy tests are reported as not graded.")] = False,
    torch_index_url: Annotated[Optional[str], typer.Option(
        help="Package index setup.sh installs torch and torchvision from (e.g. a CPU-only index).")] = None,
    pin_torch: Annotated[bool, typer.Option(
        "--pin-torch/--no-pin-torch", help="setup.sh installs the torch and torchvision versions of this "
                                           "environment, the ones the solutions are graded with here; "
                                           "--no-pin-torch lets pip pick (torch>=2.2).")] = True,
    force: ForceOpt = False,
) -> None:
    """Write a Gradescope autograder zip: setup.sh, run_autograder, the engine wheel and the hidden suites."""
    from autograder.bundle import BundleError
    from autograder.gradescope import export_gradescope
    man = load_manifest_or_exit(manifest, Path.cwd())
    err.print("grading the reference solutions with the hidden suites, to check them and count the points ...")
    try:
        result = export_gradescope(man, out, exercises, hidden_visibility=visibility,
                                   profile=profile.value, cifar10=cifar10, torch_index_url=torch_index_url,
                                   pin_torch=pin_torch,
                                   overwrite=force)
    except BundleError as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.USAGE)
    print(f"wrote {result.path}: {len(result.entries)} files, exercises {' '.join(result.exercises)}")
    print(f"set the Gradescope assignment's autograder points to {result.graded_points:g}: what this image "
          f"grades (the manifest's {result.points:g} also count the tests below)" if result.not_graded else
          f"set the Gradescope assignment's autograder points to {result.graded_points:g}")
    for item in result.not_graded:
        print(f"  never graded on this image: {item}")
    print("upload it as the autograder of a Gradescope programming assignment; it holds the hidden suites "
          "and solutions, so keep it away from students")


@export_app.command("otter")
def export_otter_cmd(
    folder: Annotated[Path, typer.Argument(help="Folder to write the otter-grader files into.", file_okay=False,
                                           show_default=False)],
    exercises: ExportExercisesOpt = None,
    manifest: ManifestOpt = None,
    zip_: Annotated[bool, typer.Option(
        "--zip/--no-zip", help="Also run `otter generate` to build FOLDER/autograder.zip (needs otter-grader).")]
    = False,
    force: ForceOpt = False,
    profile: Annotated[Profile, typer.Option(
        help="Accuracy profile when otter grades (cpu, gpu, auto); its tests are exported when they run here.")]
    = Profile.auto,
    data_dir: Annotated[Optional[Path], typer.Option(
        "--data-dir", envvar="CIFAR10_DIR", file_okay=False,
        help="CIFAR-10, to grade the solutions' accuracy tests while exporting (they are exported only then; "
             "otter's grading image then needs CIFAR10_DIR set too).")] = None,
) -> None:
    """Write otter-grader test files that grade with the hidden suites (the solutions are graded once)."""
    from autograder.otter_export import OtterExportError, OtterUnavailable, export_otter, generate_zip

    man = load_manifest_or_exit(manifest, Path.cwd())
    err.print("grading the reference solutions with the hidden suites, to list their tests and points ...")
    try:
        result = export_otter(man, folder, exercises, overwrite=force, profile=profile.value, data_dir=data_dir)
    except OtterExportError as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.USAGE)
    print(f"wrote {result.folder}: {result.tests} otter test cases ({result.points:g} points) for "
          f"{' '.join(result.exercises)}; see {result.folder / 'README.md'}")
    for item in result.left_out:
        print(f"not exported (not graded while exporting): {item}")
    if zip_:
        try:
            print(f"wrote {generate_zip(folder)}")
        except OtterUnavailable as exc:
            error(str(exc))
            raise typer.Exit(ExitCode.USAGE)
        except OtterExportError as exc:
            error(str(exc))
            raise typer.Exit(ExitCode.GRADER_ERROR)
