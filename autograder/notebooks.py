"""Notebook submissions: the code cells of a Jupyter notebook become the exercise modules.

Many labs hand out a notebook, so ``grade check`` and ``grade batch`` accept one. The notebook is
read as JSON (nbformat 4, at most :data:`MAX_NOTEBOOK_BYTES`) and is never executed here: its code
cells are only copied, as text, into the exercise modules (``ex2_lenet.py``, ...), which the worker
then imports like any other submission.

Which exercise a code cell belongs to (the first rule that applies wins):

1. **Tag**: the cell's tags (``metadata.tags``; Jupyter: View > Cell toolbar > Tags) name the
   exercise: ``ex2`` or ``ex2_lenet`` (also ``exercise2``). The tag ``skip`` leaves a cell out.
2. **Cell magic** ``%%writefile ex2_lenet.py`` (a common way to write modules from a notebook):
   the cell's body belongs to that module (``%%writefile`` of any other file drops the cell).
3. **Header comment**: the cell's first non-blank line is a comment naming the exercise:
   ``# ex2``, ``# ex2_lenet.py``, ``# Exercise 2: LeNet``, ``# Ex. 2``, ``# %% ex2`` (jupytext).
4. **Markdown heading**: a markdown cell with a heading (``#`` to ``######``) whose text starts
   with the exercise's name (``## Exercise 2``, ``### Ex 2: LeNet``, ``## ex2_lenet``; a section
   number before it is skipped: ``## 2. Exercise 2``, ``## Part 2 - Ex 2``) or ends with it in
   parentheses (``## LeNet (Exercise 2)``) opens a
   section: the code cells after it belong to that exercise until a heading names another exercise
   (headings naming no exercise, such as ``### Try it`` or a final ``## Experiments``, do not end a
   section: a cell there is graded with the exercise above it, except a demo (no function, no
   class) that uses names only other exercises define, which would fail every test of that
   exercise: it is left out, and the notes say so). A heading naming an exercise the
   assignment does not have (``## Exercise 9``) opens a section that is not graded.
5. A notebook whose file name names an exercise (``ex2.ipynb``, ``ex2_lenet.ipynb``) starts in
   that exercise's section.

An exercise's name is its module's file name without ``.py`` (``ex2_lenet``) or the part before the
first underscore (``ex2``); ``Exercise 2`` / ``Ex 2`` mean ``ex2``. Letter case does not matter.

Code cells before the first cell that belongs to any exercise are **shared** (imports, set-up) and
are prepended to every module, so ``import torch`` in the first cell works everywhere. Code cells
after that which belong to no exercise are left out (the notes list them). A module's code runs
when the worker imports it: keep training runs and downloads out of graded cells (tag them
``skip``, or guard them with ``if __name__ == "__main__":``).
A name a module uses that only a cell outside it defines (an import cell after the first exercise,
a helper written under another exercise) would be a ``NameError`` once graded: the notes name it
and its cell before anything runs (:mod:`autograder.notebook_names`). Notes number the cells from
the top of the notebook, markdown cells included (Jupyter shows no numbers), and quote a cell's
first line of code, ``cell 9 (`net = Net()`…)``, so that the student can find it.

IPython syntax is never run: line magics and shell lines (``%matplotlib inline``, ``%timeit f()``,
``!pip install``, ``x = !ls``, ``model?``) are commented out, and so is Colab's set-up (``from
google.colab import drive``, ``drive.mount(...)``); a ``%time stmt`` line keeps ``stmt`` (IPython
runs it in the notebook's namespace: ``%time r = resnet18()`` defines ``r``), in its place; a
cell starting with ``%%time``, ``%%timeit``, ``%%capture`` or ``%%prun`` keeps its Python body
without the magic; any other cell magic (``%%bash``, ``%%html``, ...) drops the whole cell
(:mod:`autograder.notebook_cells`). ``from __future__`` imports are moved to the top of each
module. Jupyter's ``display(...)``, a builtin of every kernel, is defined (:data:`DISPLAY`: it
prints each object's repr) in a module whose cells call it when no cell of the notebook defines
it. Each copied cell is preceded by a comment ``# --- lab.ipynb, cell 4 ---``, from which the worker
turns a traceback's module line into the notebook's cell and line (:func:`notebook_position`:
``File "lab.ipynb", cell 4, line 7``); the module's first line says which notebook it comes from
(:func:`generated_from`), and its code lines have the same numbers with or without ``display``.

Several notebooks in one submission are each converted this way; an exercise whose cells are in
two of them is an error. A submission that also holds exercise ``.py`` files is graded from those
files and its notebooks are reported as ignored (see :func:`stage_notebooks`). A notebook that is
too big, not JSON, not nbformat 4, not Python or has no cell for any exercise raises
:class:`NotebookError` with a message naming the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .notebook_cells import (MAX_NOTEBOOK_BYTES, Cell, NotebookError, cell_magic, cell_quote, clean_ipython,
                             read_cells, shorten, statement_starts)
from .notebook_labels import UNKNOWN, header_target, headings, labels_of, named, tagged, writefile_target
from .notebook_names import CellLabels, aside_demos, missing_name_notes, needs_display, order_notes, reading_cells

__all__ = ["MAX_NOTEBOOK_BYTES", "NotebookError", "Cell", "Conversion", "NotebookStaging", "read_cells",
           "split_cells", "find_notebooks", "notebook_to_modules", "stage_notebooks", "generated_from",
           "notebook_position"]

SKIP_TAGS = frozenset({"skip"})
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})  # their body is Python: keep it
WRITEFILE_MAGICS = frozenset({"writefile", "file"})

_FUTURE = re.compile(r"^from\s+__future__\s+import\s+.+$")
_CELL_MARKER = re.compile(r"^# --- (.+), (cell \d+)(?: \(shared\))? ---$")  # see _assemble


@dataclass(frozen=True)
class Conversion:
    """What one notebook gives: module file -> source (only modules with cells), and notes."""

    notebook: str
    modules: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]

    def module(self, name: str) -> str | None:
        return dict(self.modules).get(name)


@dataclass(frozen=True)
class NotebookStaging:
    """What :func:`stage_notebooks` did with a submission's notebooks."""

    converted: tuple[str, ...] = ()  # notebooks whose cells became the modules
    ignored: tuple[str, ...] = ()  # notebooks left out because exercise .py files were there
    notes: tuple[str, ...] = ()


# ----------------------------------------------------------------------------------------------
# naming exercises


# ----------------------------------------------------------------------------------------------
# splitting


def _numbers(cells: Sequence[int]) -> str:
    return ("cell " if len(cells) == 1 else "cells ") + ", ".join(str(n) for n in cells)


def split_cells(cells: Sequence[Cell], module_names: Sequence[str], notebook: str = "notebook.ipynb") -> Conversion:
    """Assign ``cells`` to the exercise modules by the rules of this module; pure (no files)."""
    labels = labels_of(module_names)
    section = named(Path(notebook).stem, labels)
    section = section if section != UNKNOWN else None
    started = section is not None
    opened_at, aside = 6, ""  # the level of the heading that opened the section, a heading naming none since
    shared: list[tuple[int, str]] = []
    chunks: dict[str, list[tuple[int, str]]] = {m: [] for m in module_names}
    outside, unknown, magic_lines, dropped_magic, skipped = [], [], [], [], []
    elsewhere: list[tuple[int, str, str]] = []  # cells no module gets: (number, code, why)
    under: dict[int, str] = {}  # cell -> the heading naming no exercise it is under, still in a section
    for cell in cells:
        if cell.kind == "markdown":
            for level, heading, target in headings(cell.source, labels):
                if target is not None:
                    section, started, opened_at, aside = target, True, level, ""
                elif section is not None and level <= opened_at:  # "## Experiments" after "## Exercise 6"
                    text, cut = shorten(heading, 30)
                    aside = f"`{text}`" + ("…" if cut else "")
            continue
        if cell.kind != "code" or not cell.source.strip():
            continue
        if SKIP_TAGS & {t.strip().lower() for t in cell.tags}:
            skipped.append(cell.number)
            elsewhere.append((cell.number, clean_ipython(cell.source)[0], "tagged skip, not graded"))
            continue
        magic, argument, body = cell_magic(cell.source)
        target = tagged(cell.tags, labels)
        if magic in WRITEFILE_MAGICS:  # the file it writes decides, whatever the tags say
            target = writefile_target(argument, module_names)
            if target is None:
                dropped_magic.append(f"%%{magic} {argument.strip()} (cell {cell.number})")
                continue
        elif magic and magic not in PYTHON_CELL_MAGICS:
            dropped_magic.append(f"%%{magic} (cell {cell.number})")
            continue
        target = target or header_target(body, labels)
        if target is None:
            target = section
            if aside:
                under[cell.number] = aside
        else:
            started = True
        code, count = clean_ipython(body)
        if target is None and started:
            outside.append(cell.number)
            elsewhere.append((cell.number, code, "after the first exercise but in no exercise's section, "
                                                 "not graded"))
            continue
        if target == UNKNOWN:
            unknown.append(cell.number)
            elsewhere.append((cell.number, code, "for an exercise this assignment does not have, not graded"))
            continue
        if count:
            magic_lines.append(cell.number)
        (shared if target is None else chunks[target]).append((cell.number, code))

    names = CellLabels({c.number: cell_quote(c.source) for c in cells if c.kind == "code"}, under)
    asides = []
    for module in module_names if under else ():
        others = elsewhere + [(n, code, f"in {other}'s cells") for other in module_names
                              if other != module for n, code in chunks[other]]
        drop = aside_demos(_assemble(notebook, module, shared, chunks[module]), chunks[module], others, under)
        if drop:
            elsewhere.extend((n, code, "a demo under a heading naming no exercise, not graded")
                             for n, code in chunks[module] if n in drop)
            chunks[module] = [(n, code) for n, code in chunks[module] if n not in drop]
            asides.append(f"{notebook}: not graded: {_numbers(drop)} (under {under[drop[0]]}, a heading naming "
                          f"no exercise, after {module}'s cells: a demo that uses names only other exercises "
                          f"define, which graded with {module} would fail every test)")
    modules, failing, displays = [], [], []  # failing first: the notes are capped in the report
    for module in module_names:
        if not chunks[module]:
            continue
        own = shared + chunks[module]
        others = sorted(elsewhere + [(n, code, f"in {other}'s cells") for other in module_names
                                     if other != module for n, code in chunks[other]])
        source = _assemble(notebook, module, shared, chunks[module])
        if needs_display(source, others):
            source = _assemble(notebook, module, shared, chunks[module], display=True)
            users = reading_cells("display", own)
            displays.append(f"{notebook}: {module}: {names.refs(users)} call{'' if len(users) > 1 else 's'} "
                            f"display(), which Jupyter provides: the grader defines it at the top of {module} "
                            f"(it prints each object's repr, as Jupyter's text output does)")
        modules.append((module, source))
        failing.extend(missing_name_notes(notebook, module, source, others, own, names))
        failing.extend(order_notes(notebook, module, own, names))
    notes = []
    if shared and modules:
        notes.append(f"{notebook}: shared by every module: {_numbers([n for n, _ in shared])} (before the first "
                     f"exercise)")
    for module in module_names:
        if chunks[module]:
            notes.append(f"{notebook}: {module} from {_numbers([n for n, _ in chunks[module]])}")
    if outside:
        notes.append(f"{notebook}: not graded: {_numbers(outside)} (after the first exercise but in none)")
    if unknown:
        notes.append(f"{notebook}: not graded: {_numbers(unknown)} (for an exercise this assignment does not "
                     f"have)")
    notes.extend(asides)
    if skipped:
        notes.append(f"{notebook}: not graded: {_numbers(skipped)} (tagged skip)")
    if magic_lines:
        notes.append(f"{notebook}: IPython magics, shell lines and Colab set-up commented out (never run) in "
                     f"{_numbers(magic_lines)}")
    if dropped_magic:
        notes.append(f"{notebook}: not graded: {', '.join(dropped_magic)} (a cell magic that is not Python)")
    return Conversion(notebook, tuple(modules), tuple(failing + displays + notes))


# Jupyter's display(), for a module whose cells call it: on the module's blank third line, so that
# no line of the student's code moves. Jupyter shows an object's text output as its repr.
DISPLAY = ('def display(*objs, **kwargs): print(*map(repr, objs), sep="\\n") if objs else None  '
           '# Jupyter\'s display(), added by the grader')
GENERATED = "generated by the autograder from the code cells of"  # in the first line of every module


def _assemble(notebook: str, module: str, shared: list[tuple[int, str]], own: list[tuple[int, str]],
              display: bool = False) -> str:
    future: list[str] = []
    parts = [f"# {module}: {GENERATED} {notebook}\n"
             f"# (the shared cells first, then this exercise's cells, in notebook order).\n"]
    for label, chunk in [("shared", c) for c in shared] + [("", c) for c in own]:
        number, code = chunk
        lines = code.split("\n")
        for i, (line, start) in enumerate(zip(lines, statement_starts(lines))):
            if start and _FUTURE.match(line):
                if line.strip() not in future:
                    future.append(line.strip())
                lines[i] = f"# [notebook: moved to the top] {line}"
        parts.append(f"# --- {notebook}, cell {number}{' (shared)' if label else ''} ---\n"
                     + "\n".join(lines).rstrip() + "\n")
    head = "\n".join(future) + "\n" if future else ""
    return parts[0] + head + (DISPLAY if display else "") + "\n" + "\n".join(parts[1:])


def generated_from(module: Path) -> str | None:
    """The notebook a module file was generated from (its first line says so), or None: for
    messages that should give a notebook's advice ("tag the cell `skip`") rather than a module's."""
    try:
        with open(module, encoding="utf-8", errors="replace") as fh:
            first = fh.readline(1000)
    except OSError:
        return None
    name = Path(module).name
    prefix = f"# {name}: {GENERATED} "
    return (first[len(prefix):].strip() or None) if first.startswith(prefix) else None


def notebook_position(module: str | Path, lineno: int) -> tuple[str, str, int] | None:
    """Where line ``lineno`` of a module generated from a notebook comes from: ``(notebook, "cell 4",
    line within that cell)``, for tracebacks that point into the notebook the student wrote. None
    for a module the student wrote as a file, or a line of the module's own header."""
    if lineno < 1 or generated_from(Path(module)) is None:
        return None
    try:
        with open(module, encoding="utf-8", errors="replace") as fh:
            above = [fh.readline(10_000) for _ in range(lineno - 1)]
    except OSError:
        return None
    for index in range(len(above) - 1, -1, -1):
        marker = _CELL_MARKER.match(above[index].rstrip("\n"))
        if marker:
            return marker.group(1), marker.group(2), lineno - (index + 1)
    return None


# ----------------------------------------------------------------------------------------------
# files


def find_notebooks(folder: Path) -> list[Path]:
    """The notebooks at the top of ``folder`` (plain files, not links, not hidden), by name."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.suffix == ".ipynb" and not p.name.startswith(".")
                  and p.is_file() and not p.is_symlink())


def notebook_to_modules(paths: Path | Sequence[Path], module_names: Sequence[str], into: Path,
                        max_bytes: int = MAX_NOTEBOOK_BYTES) -> list[str]:
    """Write the exercise modules that the notebook(s) at ``paths`` hold into ``into`` (read-only
    files); returns notes saying which cells went where. Raises :class:`NotebookError` (naming
    the file) for a bad notebook, two notebooks holding one exercise, or no exercise at all."""
    paths = [Path(paths)] if isinstance(paths, (str, Path)) else [Path(p) for p in paths]
    conversions = [split_cells(read_cells(p, max_bytes), module_names, p.name) for p in paths]
    owner: dict[str, str] = {}
    for conv in conversions:
        for module, _source in conv.modules:
            if module in owner:
                raise NotebookError(f"{owner[module]} and {conv.notebook} both hold cells for {module}; "
                                    f"submit each exercise in one notebook only")
            owner[module] = conv.notebook
    if not owner:
        names = ", ".join(p.name for p in paths)
        raise NotebookError(f"{names}: no code cell belongs to an exercise; tag the cells (e.g. ex2 or "
                            f"ex2_lenet), start them with a comment such as `# ex2`, or put them under a "
                            f"markdown heading such as `## Exercise 2`")
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    for conv in conversions:
        for module, source in conv.modules:
            target = into / module
            target.write_text(source, encoding="utf-8")
            target.chmod(0o444)
    notes = [note for conv in conversions for note in conv.notes]
    missing = [m for m in module_names if m not in owner]
    if missing:
        notes.append(f"no notebook cell for {', '.join(missing)}")
    return notes


def stage_notebooks(submission: Path, module_names: Sequence[str], into: Path) -> NotebookStaging:
    """The notebook rule of a submission folder: with no exercise ``.py`` file at its top, its
    notebooks are converted into ``into``; with one, they are ignored (and reported so)."""
    submission = Path(submission)
    notebooks = find_notebooks(submission)
    if not notebooks:
        return NotebookStaging()
    names = tuple(p.name for p in notebooks)
    if any((submission / m).is_file() and not (submission / m).is_symlink() for m in module_names):
        return NotebookStaging(ignored=names, notes=(f"{', '.join(names)} ignored: the submission's exercise "
                                                     f".py files are graded instead",))
    return NotebookStaging(converted=names, notes=tuple(notebook_to_modules(notebooks, module_names, into)))
