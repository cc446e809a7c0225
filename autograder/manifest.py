"""The assignment manifest (``assignments/assignment.toml``) loaded into frozen dataclasses.

Every validation error names the file and the key, e.g.
``assignments/assignment.toml: exercises.ex2.points must be a positive number, got "ten"``.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, replace
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["ManifestError", "Limits", "Exercise", "Manifest", "load_manifest", "find_manifest"]

MANIFEST_NAMES = ("assignment.toml", "assignments/assignment.toml")


class ManifestError(ValueError):
    """The manifest is missing or malformed; the message names the file and the key."""


@dataclass(frozen=True)
class Limits:
    """Time and memory limits for the student's code (per call, per test, per run)."""

    call_seconds: float = 30.0
    test_seconds: float = 120.0
    run_seconds: float = 600.0
    memory_mb: int = 4096


@dataclass(frozen=True)
class Exercise:
    name: str
    module: str  # file name in the submission, e.g. "ex2_lenet.py"
    title: str
    points: float  # what the hidden suite is worth; checked against the tests' markers
    handout: str | None
    limits: Limits

    @property
    def module_name(self) -> str:
        return self.module[:-3]


@dataclass(frozen=True)
class Manifest:
    path: Path
    name: str
    title: str
    exercises: tuple[Exercise, ...]
    solutions: Path | None
    template: Path | None
    hidden_tests: Path | None
    public_tests: Path | None
    mutants: Path | None

    def exercise(self, name: str) -> Exercise:
        for ex in self.exercises:
            if ex.name == name:
                return ex
        raise KeyError(name)

    def with_limits(self, **overrides: float | None) -> "Manifest":
        """A copy with every exercise's limits overridden where a value is given (not None)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if not given:
            return self
        return replace(self, exercises=tuple(replace(ex, limits=replace(ex.limits, **given)) for ex in self.exercises))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(ex.name for ex in self.exercises)

    @property
    def modules(self) -> tuple[str, ...]:
        return tuple(ex.module for ex in self.exercises)


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, message: str) -> ManifestError:
        return ManifestError(f"{self.path}: {key} {message}")

    def table(self, data: dict, key: str, required: bool = False) -> dict:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(key, "must be a table" if value is not None else "is missing")
        return value

    def string(self, data: dict, key: str, default: str | None = None, required: bool = False) -> str | None:
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None:
            if required:
                raise self.fail(key, "is missing")
            return default
        if not isinstance(value, str) or not value.strip():
            raise self.fail(key, f"must be a non-empty string, got {value!r}")
        return value

    def number(self, data: dict, key: str, default: float | None, positive: bool = True) -> float:
        value = data.get(key.rsplit(".", 1)[-1], default)
        if value is None:
            raise self.fail(key, "is missing")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or (positive and value <= 0):
            raise self.fail(key, f"must be a positive number, got {value!r}")
        return value

    def unknown(self, data: dict, prefix: str, allowed: set[str]) -> None:
        for key in data:
            if key not in allowed:
                raise self.fail(f"{prefix}{key}", f"is not a known key (known: {', '.join(sorted(allowed))})")

    def limits(self, data: dict, prefix: str, base: Limits) -> Limits:
        fields = {"call_seconds", "test_seconds", "run_seconds", "memory_mb"}
        self.unknown({k: v for k, v in data.items() if k in fields or k.endswith(("_seconds", "_mb"))},
                     prefix, fields)
        memory = self.number(data, prefix + "memory_mb", base.memory_mb)
        if not isinstance(memory, int):
            raise self.fail(prefix + "memory_mb", f"must be a whole number of megabytes, got {memory!r}")
        limits = Limits(
            call_seconds=self.number(data, prefix + "call_seconds", base.call_seconds),
            test_seconds=self.number(data, prefix + "test_seconds", base.test_seconds),
            run_seconds=self.number(data, prefix + "run_seconds", base.run_seconds),
            memory_mb=memory,
        )
        if limits.call_seconds > limits.test_seconds:  # a per-call limit the per-test one always cuts short
            raise self.fail(prefix + "call_seconds", f"is {limits.call_seconds:g}, more than test_seconds "
                            f"({limits.test_seconds:g}): one call cannot outlast the test it runs in")
        return limits

    def path_or_none(self, data: dict, key: str) -> Path | None:
        value = self.string(data, key)
        return (self.path.parent / value).resolve() if value else None


_EXERCISE_KEYS = {"module", "title", "points", "handout", "call_seconds", "test_seconds",
                  "run_seconds", "memory_mb"}


def load_manifest(path: Path) -> Manifest:
    path = Path(path)
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"{path}: cannot read the manifest ({exc})") from None
    try:
        data = tomllib.loads(raw)
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(f"{path}: not valid TOML ({exc})") from None

    r = _Reader(path)
    r.unknown(data, "", {"assignment", "paths", "limits", "exercises"})
    assignment = r.table(data, "assignment", required=True)
    r.unknown(assignment, "assignment.", {"name", "title"})
    paths = r.table(data, "paths")
    r.unknown(paths, "paths.", {"solutions", "template", "hidden_tests", "public_tests", "mutants"})
    limits_table = r.table(data, "limits")
    r.unknown(limits_table, "limits.", {"call_seconds", "test_seconds", "run_seconds", "memory_mb"})
    default_limits = r.limits(limits_table, "limits.", Limits())

    exercises_table = r.table(data, "exercises", required=True)
    if not exercises_table:
        raise r.fail("exercises", "must name at least one exercise")
    exercises, modules = [], set()
    for name, table in exercises_table.items():
        key = f"exercises.{name}"
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise r.fail(key, "must be a simple name such as ex1")
        if not isinstance(table, dict):
            raise r.fail(key, "must be a table")
        r.unknown(table, key + ".", _EXERCISE_KEYS)
        module = r.string(table, key + ".module", required=True)
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*\.py", module):
            raise r.fail(key + ".module", f"must be a Python file name such as ex1_shapes.py, got {module!r}")
        if module in modules:
            raise r.fail(key + ".module", f"{module} is used by two exercises")
        modules.add(module)
        exercises.append(Exercise(
            name=name, module=module, title=r.string(table, key + ".title", name),
            points=r.number(table, key + ".points", None),
            handout=r.string(table, key + ".handout"),
            limits=r.limits(table, key + ".", default_limits),
        ))

    return Manifest(
        path=path.resolve(), name=r.string(assignment, "assignment.name", "assignment"),
        title=r.string(assignment, "assignment.title", "Assignment"), exercises=tuple(exercises),
        solutions=r.path_or_none(paths, "paths.solutions"), template=r.path_or_none(paths, "paths.template"),
        hidden_tests=r.path_or_none(paths, "paths.hidden_tests"),
        public_tests=r.path_or_none(paths, "paths.public_tests"),
        mutants=r.path_or_none(paths, "paths.mutants"),
    )


def find_manifest(*starts: Path) -> Path:
    """The first ``assignment.toml`` or ``assignments/assignment.toml`` in a start folder or above."""
    for start in starts:
        start = Path(start).resolve()
        for folder in (start, *start.parents):
            for name in MANIFEST_NAMES:
                candidate = folder / name
                if candidate.is_file():
                    return candidate
    raise ManifestError(
        "no assignment.toml found in " + ", ".join(str(Path(s)) for s in starts)
        + " or above; pass --manifest")
