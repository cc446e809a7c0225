"""Which exercise a notebook cell, heading, tag or file name names (the labels of
:mod:`autograder.notebooks`, rules 1 to 5).

An exercise's name is its module's file name without ``.py`` (``ex2_lenet``) or the part before the
first underscore (``ex2``); ``Exercise 2`` / ``Ex 2`` mean ``ex2``; letter case does not matter. A
section number before the name is skipped (``2. Exercise 2``, ``Part 2 - Ex 2``) and a name in
parentheses at the end counts (``LeNet (Exercise 2)``).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable, Sequence

__all__ = ["UNKNOWN", "labels_of", "named", "tagged", "headings", "header_target", "writefile_target"]

UNKNOWN = "<unknown exercise>"  # a section or cell naming an exercise the assignment does not have
_EXERCISE_NUMBER = re.compile(r"(?:exercise|ex)\.?\s*(?:#|no\.?|nr\.?)?\s*(\d+)(?![\w])", re.I)
_NUMBERING = re.compile(r"^(?:(?:part|section|task|step)\s*)?\d+(?:\.\d+)*\s*[.):\-\u2013\u2014]*\s*", re.I)
_TRAILING_EXERCISE = re.compile(r"\(\s*(?:exercise|ex)\.?\s*(\d+)\s*\)\W*$", re.I)  # "LeNet (Exercise 2)"
_NAME = re.compile(r"([A-Za-z_]\w*)(?:\.py)?(?![\w])")
_LOOKS_LIKE_EXERCISE = re.compile(r"ex\d+(?:_\w*)?")
_HEADING = re.compile(r"^ {0,3}#{1,6}\s+(.*?)\s*#*\s*$")
_HEADER_COMMENT = re.compile(r"^#\s*(?:%%\s*)?(.*)$")


def labels_of(module_names: Sequence[str]) -> dict[str, str]:
    """label -> module file: ``ex2_lenet`` and, when no other module shares it, ``ex2``."""
    stems = [m[:-3] if m.endswith(".py") else m for m in module_names]
    shorts = Counter(stem.split("_", 1)[0].lower() for stem in stems)
    labels: dict[str, str] = {}
    for module, stem in zip(module_names, stems):
        labels[stem.lower()] = module
        short = stem.split("_", 1)[0].lower()
        if shorts[short] == 1:
            labels.setdefault(short, module)
    return labels


def _resolve(label: str, labels: dict[str, str]) -> str | None:
    """The module for ``label``, :data:`UNKNOWN` for an exercise-like name the assignment lacks,
    None when ``label`` names no exercise."""
    label = label.lower()
    if label in labels:
        return labels[label]
    return UNKNOWN if _LOOKS_LIKE_EXERCISE.fullmatch(label) else None


def named(text: str, labels: dict[str, str]) -> str | None:
    """The exercise named at the start of ``text`` ("Exercise 2: ...", "ex2_lenet.py", "ex2")."""
    text = re.sub(r"^[\W_]+", "", text.strip())  # markup and decoration before it: "**", "`", "_", "🧠 "
    text = _NUMBERING.sub("", text)  # a section number before it: "2. Exercise 2", "Part 2 - ex2"
    match = _EXERCISE_NUMBER.match(text) or _TRAILING_EXERCISE.search(text)
    if match:
        return _resolve(f"ex{int(match.group(1))}", labels)
    match = _NAME.match(text)
    return _resolve(match.group(1), labels) if match else None


def tagged(tags: Iterable[str], labels: dict[str, str]) -> str | None:
    for tag in tags:
        tag = tag.strip()
        match = re.fullmatch(r"(?:exercise|ex)[\s_-]?(\d+)", tag, re.I)
        target = _resolve(f"ex{int(match.group(1))}" if match else tag.removesuffix(".py"), labels)
        if target is not None:
            return target
    return None


def headings(markdown: str, labels: dict[str, str]) -> list[tuple[int, str, str | None]]:
    """The headings of a markdown cell: (level, the heading as written, the exercise it names or None)."""
    found = []
    for line in markdown.splitlines():
        match = _HEADING.match(line)
        if match:
            found.append((len(line.strip()) - len(line.strip().lstrip("#")), line.strip(),
                          named(match.group(1), labels)))
    return found


def header_target(code: str, labels: dict[str, str]) -> str | None:
    first = next((line.strip() for line in code.splitlines() if line.strip()), "")
    match = _HEADER_COMMENT.match(first)
    return named(match.group(1), labels) if match else None


# ----------------------------------------------------------------------------------------------
# %%writefile


def writefile_target(argument: str, module_names: Sequence[str]) -> str | None:
    words = [w for w in argument.split() if not w.startswith("-")]
    if words:
        file_name = words[-1].strip("\"'").replace("\\", "/").rsplit("/", 1)[-1]
        if file_name in module_names:
            return file_name
    return None
