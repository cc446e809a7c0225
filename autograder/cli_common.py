"""What every ``grade`` subcommand shares: exit codes, error output, the manifest option."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape

from autograder.manifest import Manifest, ManifestError, find_manifest, load_manifest
from autograder.sandbox import SandboxMode

__all__ = ["err", "error", "Profile", "ExitCode", "load_manifest_or_exit", "ManifestOpt", "SandboxOpt"]

err = Console(stderr=True, highlight=False, soft_wrap=True)


def error(message: str) -> None:
    """An error message on stderr (markup-safe: paths and hints may hold [brackets])."""
    err.print(f"[red]error:[/] {escape(message)}")


class Profile(str, enum.Enum):
    auto = "auto"
    cpu = "cpu"
    gpu = "gpu"


class ExitCode(enum.IntEnum):
    OK = 0  # every graded test passed / every verify check held
    TESTS_FAILED = 1  # some test failed (the student's code), or a verify check failed
    USAGE = 2  # bad command line, missing folder, malformed manifest
    GRADER_ERROR = 3  # the grader itself failed (a broken hidden test, a crashed test process)


def load_manifest_or_exit(manifest: Optional[Path], *starts: Path) -> Manifest:
    try:
        return load_manifest(manifest if manifest is not None else find_manifest(*starts))
    except ManifestError as exc:
        error(str(exc))
        raise typer.Exit(ExitCode.USAGE)


ManifestOpt = Annotated[Optional[Path], typer.Option(
    "--manifest", help="assignment.toml to use (default: the first assignment.toml or assignments/assignment.toml "
                       "in the current folder or above; grade check looks from its tests folder first).",
    exists=True, dir_okay=False)]


SandboxOpt = Annotated[SandboxMode, typer.Option(
    help="Isolation of the student's code: bwrap (bubblewrap: no network, no view of the tests or other "
         "submissions, read-only files, own PID namespace, uid 65534), ns (the same sandbox built by the "
         "grader itself, faster: no second torch import), none (rlimits and process groups only), auto (ns, else "
         "bwrap, where they work; reports say \"unsandboxed\" otherwise).")]

