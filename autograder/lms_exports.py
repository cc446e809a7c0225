"""Flat LMS exports: every student's files side by side in one folder, told apart by their names.

Canvas ("Download all submissions"), Blackboard (the Grade Centre's "Assignment File Download") and
Moodle without "download submissions in folders" put each uploaded file at the top of the export,
its name prefixed with who uploaded it:

* Canvas: ``smithjohn_12345_678901_ex2_lenet.py`` (name, user id, file id, the file's own name);
  ``smithjohn_LATE_12345_...`` for a late one; a re-upload of the same file name becomes
  ``ex2_lenet-1.py`` and gets a larger file id.
* Blackboard: ``Assignment1_jdoe_attempt_2026-11-21-09-00-00_ex2_lenet.py`` (one prefix per attempt,
  every attempt kept; a ``.txt`` receipt per attempt).
* Moodle: ``Jane Doe_123456_assignsubmission_file_ex2_lenet.py``.
* Any other ``<student>_<module>`` name (``alice_ex2_lenet.py``).

:func:`group_loose_files` gathers such files into one submission per student, keeping Canvas'
latest upload of each file and Blackboard's latest attempt, and says what it chose; a loose file
it cannot attribute is returned as such, so that it becomes a row with a reason, never a silent loss.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = ["LooseStudent", "group_loose_files"]

_CANVAS = re.compile(r"^(?P<who>.+?)_(?P<late>LATE_)?(?P<uid>\d+)_(?P<fid>\d+)_(?P<file>.+)$")
_BLACKBOARD = re.compile(r"^(?P<assignment>.+?)_(?P<who>[^_]+)_attempt_(?P<when>\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d)_(?P<file>.+)$")
_MOODLE = re.compile(r"^(?P<who>.+?_\d+)_assignsubmission_file_(?P<file>.+)$")
_REUPLOAD = re.compile(r"^(?P<stem>.+?)-(?P<n>\d+)(?P<suffix>\.[^.]+)$")  # Canvas: ex2_lenet-1.py


@dataclass(frozen=True)
class LooseStudent:
    name: str  # who, as the export names them (user id included where there is one)
    files: dict[str, Path]  # the module (or notebook) name it is graded as -> the file
    notes: tuple[str, ...] = ()


def _own_name(file: str, wanted: Sequence[str]) -> str | None:
    """The exercise module (or a notebook) a file's own name stands for: ``ex2_lenet.py``,
    Canvas' ``ex2_lenet-1.py``, ``lab.ipynb``; None for anything else."""
    if file in wanted or file.endswith(".ipynb"):
        return file
    match = _REUPLOAD.match(file)
    if match and match["stem"] + match["suffix"] in wanted:
        return match["stem"] + match["suffix"]
    return None


def _parse(name: str, modules: Sequence[str]) -> tuple[str, tuple, str] | None:
    """``(student, order, graded as)`` for a flat export's file name; ``order`` sorts a student's
    uploads of one file (or attempts) from oldest to newest."""
    for pattern, key in ((_BLACKBOARD, "bb"), (_CANVAS, "canvas"), (_MOODLE, "moodle")):
        match = pattern.match(name)
        if match and (own := _own_name(match["file"], modules)):
            if key == "bb":
                return match["who"], (match["when"],), own
            if key == "canvas":
                reupload = _REUPLOAD.match(match["file"])
                return (f"{match['who']}_{match['uid']}", (int(match["fid"]), int(reupload["n"]) if reupload else 0),
                        own)
            return match["who"], (), own
    for module in modules:  # alice_ex2_lenet.py
        if name.endswith("_" + module) and len(name) > len(module) + 1:
            return name[: -len(module) - 1], (), module
    return None


def group_loose_files(files: Sequence[Path], modules: Sequence[str]) -> tuple[list[LooseStudent], list[Path]]:
    """One :class:`LooseStudent` per student among ``files`` (loose ``.py`` and ``.ipynb`` files of
    a flat export), and the files no student could be told from."""
    uploads: dict[str, dict[str, list[tuple[tuple, Path]]]] = {}
    unknown = []
    for path in files:
        parsed = _parse(path.name, modules)
        if parsed is None:
            unknown.append(path)
            continue
        who, order, own = parsed
        uploads.setdefault(who, {}).setdefault(own, []).append((order, path))
    students = []
    for who, by_file in sorted(uploads.items()):
        notes = []
        attempts = sorted({order for versions in by_file.values() for order, _ in versions if order})
        if attempts and all(len(order) == 1 for order in attempts):  # Blackboard: the latest attempt, whole
            latest = attempts[-1]
            by_file = {own: [v for v in versions if v[0] == latest] for own, versions in by_file.items()}
            by_file = {own: versions for own, versions in by_file.items() if versions}
            if len(attempts) > 1:
                notes.append(f"graded the latest of {len(attempts)} attempts ({latest[0]})")
        chosen = {}
        for own, versions in sorted(by_file.items()):
            versions.sort(key=lambda v: v[0])
            chosen[own] = versions[-1][1]
            if len(versions) > 1:
                notes.append(f"{own}: graded {versions[-1][1].name}, the latest of {len(versions)} uploads")
        if any("_LATE_" in p.name for p in chosen.values()):
            notes.append("submitted late (LATE in the export's file names)")
        students.append(LooseStudent(who, chosen, tuple(notes)))
    return students, unknown
