"""Gradescope: export an autograder zip, and run it inside Gradescope's image.

``export_gradescope`` (behind ``grade export gradescope OUT.zip``) writes the zip Gradescope's
autograder contract asks for:

* ``setup.sh`` (run once, as root, when Gradescope builds the image): makes a virtual environment in
  ``/autograder/venv`` and installs the engine wheel carried in the zip (and so torch, torchvision,
  pytest, hypothesis from the package index); optionally downloads CIFAR-10 for the accuracy tests.
* ``run_autograder`` (run for every submission, in ``/autograder``): ``python -I -m
  autograder.gradescope run``, which grades ``/autograder/submission`` with the hidden suites in the
  isolated worker and writes ``/autograder/results/results.json``.
* the engine wheel, ``cnn_gradescope.json`` (what to grade, how to show it) and the assignment
  bundle: the manifest, the hidden suites and the solutions. These live on the image only.

``AUTOGRADER_ROOT`` overrides ``/autograder`` and ``PYTHON`` the interpreter, so a test can run
``run_autograder`` against a fake ``/autograder`` tree in a temporary folder.
"""

from __future__ import annotations

import argparse
import enum
import json
import os
import shlex
import sys
import tempfile
import time
import traceback
import zipfile
from dataclasses import asdict, dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

from autograder.bundle import BundleError, build_engine_wheel, solution_problems, write_bundle
from autograder.gradescope_results import GsVisibility, failure_json, rejected_json, results_json
from autograder.manifest import Manifest, load_manifest
from autograder.results import NO_CIFAR10, Report

__all__ = ["ROOT_ENV", "CONFIG_NAME", "ImageConfig", "GradescopeExport", "export_gradescope",
           "run_autograder", "main"]

ROOT_ENV = "AUTOGRADER_ROOT"
DEFAULT_ROOT = "/autograder"
CONFIG_NAME = "cnn_gradescope.json"
CONFIG_FORMAT = 1


class ExitCode(enum.IntEnum):
    OK = 0  # results.json written, no grader error (whatever the student scored)
    USAGE = 2
    GRADER_ERROR = 3  # results.json written, flagged: the grader itself failed somewhere


@dataclass(frozen=True)
class ImageConfig:
    """``cnn_gradescope.json``: what ``run_autograder`` grades and how Gradescope shows it."""

    manifest: str  # relative to /autograder/source
    exercises: tuple[str, ...]
    hidden_visibility: GsVisibility = GsVisibility.after_published
    profile: str = "auto"
    cifar10: bool = False  # setup.sh downloaded CIFAR-10 into /autograder/cifar10
    engine: str = ""

    def to_json(self) -> str:
        data = asdict(self)
        data.update(format=CONFIG_FORMAT, exercises=list(self.exercises),
                    hidden_visibility=self.hidden_visibility.value)
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> "ImageConfig":
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if data.pop("format", None) != CONFIG_FORMAT:
                raise ValueError(f"format must be {CONFIG_FORMAT}")
            data["exercises"] = tuple(data["exercises"])
            data["hidden_visibility"] = GsVisibility(data["hidden_visibility"])
            return cls(**data)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BundleError(f"{path}: not a valid {CONFIG_NAME} ({exc}); export the zip again") from None


@dataclass(frozen=True)
class GradescopeExport:
    path: Path
    exercises: tuple[str, ...]
    points: float  # what the manifest says the chosen exercises are worth
    entries: tuple[str, ...]  # every file in the zip
    graded_points: float = 0.0  # what the image grades: the total to set on Gradescope
    not_graded: tuple[str, ...] = ()  # "ex5 test_x[gpu_vgg11] (reason)": counted in points, never graded there


_SETUP = """\
#!/usr/bin/env bash
# Gradescope runs this once, as root, while it builds the autograder image (written by
# `grade export gradescope`). It installs the grading engine from the wheel in this zip into a
# virtual environment; the hidden suites and solutions stay in /autograder/source (never given to
# students). AUTOGRADER_ROOT overrides /autograder.
set -euo pipefail
root="${{{root_env}:-{default_root}}}"
src="$root/source"
export DEBIAN_FRONTEND=noninteractive
if ! python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
  apt-get update
  apt-get install -y python3 python3-venv python3-pip
fi
python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else "cnn-autograder needs Python 3.10 or newer")'
python3 -m venv "$root/venv"
py="$root/venv/bin/python"
"$py" -m pip install --upgrade pip
{torch}"$py" -m pip install "$src/{wheel}"
{cifar10}"$py" -c 'import autograder, torch, torchvision; print("cnn-autograder", autograder.__version__, "torch", torch.__version__)'
"""

_CIFAR10 = """\
# CIFAR-10 for the accuracy tests: downloaded (MD5-verified) and decoded once, here
"$py" -m autograder.cli data download --root "$root/cifar10"
"$py" -c 'import sys; from pathlib import Path; from autograder.data import load; load(Path(sys.argv[1]), Path(sys.argv[2]))' "$root/cifar10" "$root/cifar10-cache"
"""

_RUN = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission, in /autograder (written by `grade export gradescope`).
# It grades /autograder/submission with the hidden suites, the student's code in an isolated
# worker, and writes /autograder/results/results.json. Exit code 3: the grader itself failed
# somewhere (results.json says so, to the instructor). AUTOGRADER_ROOT overrides /autograder and
# PYTHON the interpreter (tests run this against a fake tree).
root="${{{root_env}:-{default_root}}}"
exec "${{PYTHON:-$root/venv/bin/python}}" -I -m autograder.gradescope run --root "$root"
"""


def _zip_dir(zf: zipfile.ZipFile, folder: Path, prefix: PurePosixPath = PurePosixPath()) -> None:
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            zf.write(path, str(prefix / path.relative_to(folder).as_posix()))


def _script(zf: zipfile.ZipFile, name: str, text: str) -> None:
    entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
    entry.external_attr = 0o755 << 16  # Gradescope runs both scripts as executables
    zf.writestr(entry, text, compress_type=zipfile.ZIP_DEFLATED)


def _torch_requirements(pin: bool) -> str:
    """``torch==X torchvision==Y`` as installed here (what the solutions were just graded with; a
    local build label such as +cu121 dropped), or unpinned."""
    if not pin:
        return "torch torchvision"
    from importlib.metadata import version

    return " ".join(f"{name}=={version(name).split('+')[0]}" for name in ("torch", "torchvision"))


def export_gradescope(manifest: Manifest, out: Path, exercises: Sequence[str] | None = None, *,
                      hidden_visibility: GsVisibility = GsVisibility.after_published, profile: str = "auto",
                      cifar10: bool = False, torch_index_url: str | None = None, pin_torch: bool = True,
                      overwrite: bool = False, report: Report | None = None) -> GradescopeExport:
    """Write the Gradescope autograder zip ``out`` for ``exercises`` (default: all of the manifest).

    The solutions are graded with the hidden suites first (``report``, when the caller has it): the
    export is refused unless they pass, and the result says how many points the image grades (the
    manifest's total also counts tests that cannot run there: the other accuracy profile, and
    accuracy without CIFAR-10), which is the total to set on Gradescope."""
    import autograder
    from autograder.runner import GradeInputError, grade

    chosen = tuple(exercises) if exercises else manifest.names
    unknown = [e for e in chosen if e not in manifest.names]
    if unknown:
        raise BundleError(f"unknown exercise {', '.join(unknown)}; the manifest has {', '.join(manifest.names)}")
    out = Path(out)
    if out.suffix != ".zip":
        raise BundleError(f"{out}: the Gradescope autograder must be a .zip file")
    if out.exists() and not overwrite:
        raise BundleError(f"{out} exists (pass --force to overwrite it)")
    if profile not in ("auto", "cpu", "gpu"):
        raise BundleError(f"profile must be auto, cpu or gpu, got {profile!r}")
    if manifest.solutions is None or manifest.hidden_tests is None:
        raise BundleError(f"{manifest.path}: [paths] needs solutions and hidden_tests for a Gradescope export")
    if report is None:  # Gradescope's images have no GPU: auto grades the cpu profile there
        try:
            report = grade(manifest.solutions, manifest.hidden_tests, manifest, chosen,
                           profile="cpu" if profile == "auto" else profile)
        except GradeInputError as exc:
            raise BundleError(str(exc)) from None
    if problems := solution_problems(report, chosen):
        raise BundleError("the reference solutions do not pass the hidden suites, so the export would grade "
                          "wrongly: " + "; ".join(problems[:10]))
    tests = [t for t in report.tests if t.exercise in chosen]  # a report may cover more exercises
    with_data = [t for t in tests if not t.graded and cifar10 and t.feedback.startswith(NO_CIFAR10)]
    never = tuple(f"{t.exercise} {t.name} ({(t.feedback.splitlines() or [''])[0]})" for t in tests
                  if not t.graded and t not in with_data)
    graded_points = sum(t.max_score for t in tests if t.graded) + sum(t.max_score for t in with_data)
    with tempfile.TemporaryDirectory(prefix="gradescope-export-") as tmp:
        bundle = write_bundle(manifest, Path(tmp) / "bundle")
        wheel = build_engine_wheel(Path(tmp) / "wheel")
        config = ImageConfig(manifest=str(bundle.manifest), exercises=chosen, hidden_visibility=hidden_visibility,
                             profile=profile, cifar10=cifar10, engine=f"cnn-autograder {autograder.__version__}")
        index = f"--index-url {shlex.quote(torch_index_url)} " if torch_index_url else ""
        torch = (f'"$py" -m pip install {index}{_torch_requirements(pin_torch)}\n'
                 if pin_torch or torch_index_url else "")
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as zf:
            _script(zf, "setup.sh", _SETUP.format(root_env=ROOT_ENV, default_root=DEFAULT_ROOT, wheel=wheel.name,
                                                   torch=torch, cifar10=_CIFAR10 if cifar10 else ""))
            _script(zf, "run_autograder", _RUN.format(root_env=ROOT_ENV, default_root=DEFAULT_ROOT))
            zf.writestr(CONFIG_NAME, config.to_json())
            zf.write(wheel, wheel.name)
            _zip_dir(zf, bundle.root)
            entries = tuple(zf.namelist())
        os.replace(partial, out)
    points = sum(manifest.exercise(e).points for e in chosen)
    return GradescopeExport(out, chosen, points, entries, graded_points, never)


# -- inside Gradescope's image ---------------------------------------------------------------------

def _locate(submission: Path, manifest: Manifest) -> tuple[Path, list[str]]:
    """The folder holding the exercise modules (the upload's top or one folder down), and notes."""
    from autograder.submissions import find_module_folder

    if not submission.is_dir():
        return submission, [f"No submission folder ({submission}): nothing was uploaded."]
    found = find_module_folder(submission, manifest.modules)
    if found is None:
        return submission, [f"No exercise module ({', '.join(manifest.modules)}) or notebook was found at "
                            f"the top of your upload or one folder down: upload the files themselves."]
    if found != submission:
        return found, [f"Your exercise modules were graded from the folder {found.name}/ of your upload."]
    return found, []


def _write(results: Path, document: dict) -> None:
    results.parent.mkdir(parents=True, exist_ok=True)
    partial = results.with_name(results.name + ".partial")
    partial.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, results)


def _print_for_instructor(document: dict) -> None:
    """stdout: Gradescope shows it to instructors only (stdout_visibility is hidden)."""
    extra = document.get("extra_data", {})
    print(f"score: {document['score']:g} of {extra.get('max_score', 0):g} graded points")
    for name, total in extra.get("exercises", {}).items():
        print(f"  {name}: {total['score']:g}/{total['max_score']:g}")
    for error in extra.get("grader_errors", []):
        print(f"GRADER ERROR: {error}")
    if extra.get("sandbox"):
        print(f"sandbox: {extra['sandbox']}")


def run_autograder(root: Path) -> int:
    """Grade ``root/submission`` as ``root/source/cnn_gradescope.json`` says; write
    ``root/results/results.json``. Returns the exit code (3 when the grader itself failed)."""
    from autograder.runner import GradeInputError, grade

    started = time.monotonic()
    root = Path(root)
    results = root / "results" / "results.json"
    extra = {}
    try:
        config = ImageConfig.from_file(root / "source" / CONFIG_NAME)
        extra = {"engine": config.engine, "exercises_graded": list(config.exercises)}
        manifest = load_manifest(root / "source" / config.manifest)
        folder, notes = _locate(root / "submission", manifest)
        data_dir = root / "cifar10" if config.cifar10 else None
        if data_dir is not None and not data_dir.is_dir():
            notes.append("CIFAR-10 was not installed in this autograder image, so accuracy is not graded.")
            data_dir = None
        report = grade(folder, manifest.hidden_tests, manifest, config.exercises, profile=config.profile,
                       data_dir=data_dir, cache_dir=root / "cifar10-cache" if data_dir else None)
        document = results_json(report, title=manifest.title, execution_time=time.monotonic() - started,
                                hidden_visibility=config.hidden_visibility, notes=notes, extra_data=extra,
                                titles={e.name: e.title for e in manifest.exercises})
        code = ExitCode.GRADER_ERROR if report.has_grader_error else ExitCode.OK
    except GradeInputError as exc:  # the submission itself cannot be graded (e.g. a malformed notebook)
        document = rejected_json(str(exc), execution_time=time.monotonic() - started, extra_data=extra)
        code = ExitCode.OK
    except Exception as exc:  # the grader's own failure: said loudly, never a silent zero
        traceback.print_exc(file=sys.stdout)
        document = failure_json(f"the autograder failed before grading: {type(exc).__name__}: {exc}",
                                execution_time=time.monotonic() - started, extra_data=extra)
        code = ExitCode.GRADER_ERROR
    _write(results, document)
    _print_for_instructor(document)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope",
                                     description="Run the exported autograder inside Gradescope's image.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="grade ROOT/submission and write ROOT/results/results.json")
    run.add_argument("--root", type=Path, default=Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT),
                     help=f"the autograder folder (default: ${ROOT_ENV} or {DEFAULT_ROOT})")
    args = parser.parse_args(argv)
    return run_autograder(args.root)


if __name__ == "__main__":
    sys.exit(main())
