"""Mutants: realistic wrong submissions, written as text patches to the reference solution.

``mutants/<module>.toml`` names the exercise and module and lists ``[[mutant]]`` entries, each
with a ``name``, a one-line ``description`` of the mistake and ``[[mutant.replace]]`` pairs
(``old`` must occur exactly once in the solution, so a mutant never silently goes stale).
``grade verify`` proves that each one loses points on the exercise it breaks.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["MutantError", "Mutant", "load_mutants", "materialize"]


class MutantError(ValueError):
    """A mutant file is malformed or no longer applies to the solution; names file and mutant."""


@dataclass(frozen=True)
class Mutant:
    name: str
    exercise: str
    module: str
    description: str
    replacements: tuple[tuple[str, str], ...]
    source: Path

    def apply(self, text: str) -> str:
        for old, new in self.replacements:
            count = text.count(old)
            if count != 1:
                raise MutantError(f"{self.source}: mutant {self.name!r}: the text to replace occurs "
                                  f"{count} times in {self.module} (must be exactly once): {old[:60]!r}")
            text = text.replace(old, new)
        return text


def _load_file(path: Path) -> list[Mutant]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise MutantError(f"{path}: cannot read ({exc})") from None
    exercise, module = data.get("exercise"), data.get("module")
    if not isinstance(exercise, str) or not isinstance(module, str):
        raise MutantError(f"{path}: needs top-level string keys 'exercise' and 'module'")
    mutants = []
    for i, entry in enumerate(data.get("mutant", [])):
        where = f"{path}: mutant[{i}]"
        name, description, pairs = entry.get("name"), entry.get("description"), entry.get("replace")
        if not isinstance(name, str) or not isinstance(description, str):
            raise MutantError(f"{where} needs string keys 'name' and 'description'")
        if not isinstance(pairs, list) or not pairs:
            raise MutantError(f"{where} ({name}) needs at least one [[mutant.replace]] with old and new")
        replacements = []
        for pair in pairs:
            if not isinstance(pair, dict) or not isinstance(pair.get("old"), str) or not isinstance(pair.get("new"), str):
                raise MutantError(f"{where} ({name}): each [[mutant.replace]] needs string keys old and new")
            replacements.append((pair["old"], pair["new"]))
        mutants.append(Mutant(name, exercise, module, description, tuple(replacements), path))
    return mutants


def load_mutants(folder: Path) -> list[Mutant]:
    mutants = [m for path in sorted(Path(folder).glob("*.toml")) for m in _load_file(path)]
    seen = set()
    for m in mutants:
        if m.name in seen:
            raise MutantError(f"{m.source}: mutant name {m.name!r} is used twice")
        seen.add(m.name)
    return mutants


def materialize(mutant: Mutant, solutions: Path, into: Path) -> Path:
    """Write a submission folder: every solution module, with ``mutant`` applied to its module."""
    into.mkdir(parents=True, exist_ok=True)
    for src in Path(solutions).glob("*.py"):
        shutil.copyfile(src, into / src.name)
    target = into / mutant.module
    target.write_text(mutant.apply((Path(solutions) / mutant.module).read_text(encoding="utf-8")),
                      encoding="utf-8")
    return into
