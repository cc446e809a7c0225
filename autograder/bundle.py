"""What a grading platform's image needs to grade with the hidden suites: the assignment bundle
(the manifest, the hidden suites, the reference solutions) and a wheel of this engine.

Used by the Gradescope and otter-grader exports. The bundle keeps the manifest's relative paths, so
the copied ``assignment.toml`` loads unchanged: with the default layout it holds
``assignments/assignment.toml``, ``grading_tests/`` and ``solutions/``. These are secrets: they go
to the grader's image only, never to students (the engine wheel itself holds ``autograder/`` only).

The wheel is written from the installed ``autograder`` package and its installed metadata, so an
export works from an editable checkout and from a pip-installed engine alike, without a build
backend or network.
"""

from __future__ import annotations

import base64
import hashlib
import importlib.metadata
import os
import shutil
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Sequence

import autograder
from autograder.manifest import Manifest
from autograder.results import Outcome, Report

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["BundleError", "Bundle", "DISTRIBUTION", "write_bundle", "build_engine_wheel", "wheel_name"]

DISTRIBUTION = "cnn-autograder"
_SKIPPED = ("__pycache__", ".pytest_cache", ".hypothesis", ".ipynb_checkpoints")


def solution_problems(report: Report, exercises: Sequence[str]) -> list[str]:
    """Why the reference solutions' hidden-suite ``report`` is no sound base for an export (grader
    errors, tests of ``exercises`` that did not pass, no test at all); empty when it is one."""
    tests = [t for t in report.tests if t.exercise in exercises]  # a report may cover more exercises
    failing = [f"{t.exercise} {t.name}: {t.outcome.value}" for t in tests
               if t.outcome not in (Outcome.PASSED, Outcome.NOT_GRADED) or t.grader_error]
    return [*report.grader_errors, *failing] or ([] if tests else ["no test ran"])


class BundleError(ValueError):
    """The assignment cannot be bundled (no hidden suites, a path outside the project, ...)."""


@dataclass(frozen=True)
class Bundle:
    root: Path  # the folder written
    manifest: PurePosixPath  # the manifest, relative to root
    folders: tuple[PurePosixPath, ...]  # hidden suites and solutions, relative to root


def _project_root(manifest: Manifest) -> Path:
    paths = [manifest.path.parent] + [p for p in (manifest.hidden_tests, manifest.solutions) if p is not None]
    return Path(os.path.commonpath([str(p) for p in paths]))


def _copy_tree(src: Path, dst: Path) -> None:
    shutil.copytree(src, dst, symlinks=False, ignore=lambda _d, names: [
        n for n in names if n in _SKIPPED or n.endswith((".pyc", ".pyo"))])


def write_bundle(manifest: Manifest, into: Path) -> Bundle:
    """Copy the manifest, the hidden suites and the solutions into ``into`` (created; must not exist)."""
    if manifest.hidden_tests is None:
        raise BundleError(f"{manifest.path}: [paths] names no hidden_tests, so there is nothing to grade with")
    for key, folder in (("hidden_tests", manifest.hidden_tests), ("solutions", manifest.solutions)):
        if folder is not None and not folder.is_dir():
            raise BundleError(f"{manifest.path}: paths.{key} is not a folder: {folder}")
    root = _project_root(manifest)
    into = Path(into)
    into.mkdir(parents=True)
    manifest_rel = manifest.path.relative_to(root)
    (into / manifest_rel).parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(manifest.path, into / manifest_rel)
    folders = []
    for folder in (manifest.hidden_tests, manifest.solutions):
        if folder is None:
            continue
        rel = folder.relative_to(root)
        if rel == Path("."):
            raise BundleError(f"{manifest.path}: the hidden suites and solutions need folders of their own")
        _copy_tree(folder, into / rel)
        folders.append(PurePosixPath(rel.as_posix()))
    return Bundle(into, PurePosixPath(manifest_rel.as_posix()), tuple(folders))


@dataclass(frozen=True)
class _Meta:
    version: str
    metadata: str  # the wheel's METADATA
    entry_points: str


def _from_pyproject(path: Path) -> _Meta | None:
    """Metadata from the project's own pyproject.toml (an editable checkout: newer than what was
    installed when ``pip install -e`` last ran)."""
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8"))["project"]
    except (OSError, ValueError, KeyError):
        return None
    if project.get("name") != DISTRIBUTION or "version" not in project:
        return None
    lines = ["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {project['version']}"]
    if project.get("description"):
        lines.append(f"Summary: {project['description']}")
    if project.get("requires-python"):
        lines.append(f"Requires-Python: {project['requires-python']}")
    lines += [f"Requires-Dist: {r}" for r in project.get("dependencies", [])]
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        for requirement in requirements:
            req, _, marker = (part.strip() for part in requirement.partition(";"))
            marker = f"({marker}) and extra == \"{extra}\"" if marker else f"extra == \"{extra}\""
            lines.append(f"Requires-Dist: {req}; {marker}")
    scripts = project.get("scripts", {})
    entry_points = ("[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in scripts.items())) if scripts else ""
    return _Meta(project["version"], "\n".join(lines) + "\n", entry_points)


def _from_installed() -> _Meta:
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        raise BundleError(f"{DISTRIBUTION} is not installed (run `pip install -e .` in the project), so its "
                          f"wheel cannot be written") from None
    meta = dist.metadata
    lines = ["Metadata-Version: 2.1", f"Name: {DISTRIBUTION}", f"Version: {dist.version}"]
    for key in ("Summary", "Requires-Python"):
        if meta.get(key):
            lines.append(f"{key}: {meta[key]}")
    lines += [f"Provides-Extra: {e}" for e in meta.get_all("Provides-Extra") or ()]
    lines += [f"Requires-Dist: {r}" for r in meta.get_all("Requires-Dist") or ()]
    return _Meta(dist.version, "\n".join(lines) + "\n", dist.read_text("entry_points.txt") or "")


def _package_dir() -> Path:
    return Path(autograder.__file__).resolve().parent


def _meta() -> _Meta:
    return _from_pyproject(_package_dir().parent / "pyproject.toml") or _from_installed()


def wheel_name() -> str:
    """The file name of the engine wheel, e.g. ``cnn_autograder-0.1.0-py3-none-any.whl``."""
    return f"{DISTRIBUTION.replace('-', '_')}-{_meta().version}-py3-none-any.whl"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def build_engine_wheel(into: Path) -> Path:
    """Write a pure-Python wheel of the installed engine (``autograder/`` only) into ``into``."""
    meta = _meta()
    package = _package_dir()
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    path = into / f"{DISTRIBUTION.replace('-', '_')}-{meta.version}-py3-none-any.whl"
    info = f"{DISTRIBUTION.replace('-', '_')}-{meta.version}.dist-info"
    files: list[tuple[str, bytes]] = []
    for src in sorted(package.rglob("*.py")):
        rel = src.relative_to(package)
        if any(part in _SKIPPED for part in rel.parts):
            continue
        files.append((f"autograder/{rel.as_posix()}", src.read_bytes()))
    files.append((f"{info}/METADATA", meta.metadata.encode()))
    files.append((f"{info}/WHEEL", b"Wheel-Version: 1.0\nGenerator: cnn-autograder bundle\n"
                                   b"Root-Is-Purelib: true\nTag: py3-none-any\n"))
    if meta.entry_points:
        files.append((f"{info}/entry_points.txt", meta.entry_points.encode()))
    files.append((f"{info}/top_level.txt", b"autograder\n"))
    record = "\n".join(_record_line(n, d) for n, d in files) + f"\n{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files + [(f"{info}/RECORD", record.encode())]:
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # reproducible
            entry.external_attr = 0o644 << 16
            zf.writestr(entry, data, compress_type=zipfile.ZIP_DEFLATED)
    return path
