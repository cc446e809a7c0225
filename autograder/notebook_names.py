"""Names an exercise module of a notebook uses but only another part of the notebook defines.

A notebook runs top to bottom in one namespace, so ``import torch.nn as nn`` in a cell after the
first exercise, or a helper written under Exercise 1 and called from Exercise 3, works in Jupyter.
Graded, each exercise becomes its own module (:mod:`autograder.notebooks`): such a name is missing
there and the student meets a ``NameError`` that the notebook never showed. This module finds those
names before anything runs, so the conversion notes can say which cell uses the name, which cell
defines it and where to move it (or, for a demo cell, to tag it ``skip``). It also tells whether a
module needs Jupyter's ``display`` (:func:`needs_display`). The analysis is static and deliberately
simple (``ast``, no execution): a name counts as used when it is read anywhere in the module and
bound nowhere in it (any scope) and is not a builtin.
"""

from __future__ import annotations

import ast
import builtins
import functools
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Sequence

__all__ = ["Elsewhere", "CellLabels", "aside_demos", "top_level_names", "unbound_names", "names_defined_elsewhere",
           "reading_cells", "needs_display", "missing_name_notes", "eager_names", "used_before_defined",
           "order_notes"]

_ALWAYS = frozenset(dir(builtins)) | {"__name__", "__file__", "__doc__", "__spec__", "__builtins__",
                                      "__loader__", "__package__", "__annotations__", "__dict__"}


@dataclass(frozen=True)
class Elsewhere:
    """``name``, used by a module, is bound at the top level of cell ``cell`` of the notebook,
    which is ``where`` (e.g. "ex1_shapes.py's cells", "not graded: after the first exercise")."""

    name: str
    cell: int
    where: str


@functools.lru_cache(maxsize=512)  # every module's notes read the other cells: parse each once
def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(code)
    except (SyntaxError, ValueError):
        return None


@functools.lru_cache(maxsize=512)
def _read_names(code: str) -> frozenset[str]:
    """Every name ``code`` reads anywhere (empty when it does not parse)."""
    tree = _parse(code)
    return frozenset(() if tree is None else (n.id for n in ast.walk(tree)
                                              if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)))


def _targets(node: ast.AST) -> Iterable[str]:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            yield sub.id


def top_level_names(code: str) -> set[str]:
    """The names a cell binds in the notebook's namespace: imports, defs, classes and assignments
    at its top level (also inside top-level ``if``/``try``/``with``/``for`` blocks)."""
    tree = _parse(code)
    if tree is None:
        return set()
    names: set[str] = set()
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names if a.name != "*")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                names.update(_targets(target))
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            if isinstance(node, ast.For):
                names.update(_targets(node.target))
            if isinstance(node, ast.With):
                names.update(n for item in node.items if item.optional_vars for n in _targets(item.optional_vars))
            for block in ("body", "orelse", "finalbody"):
                pending.extend(getattr(node, block, []))
            for handler in getattr(node, "handlers", []):
                pending.extend(handler.body)
    return names


def _bound_anywhere(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            names.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            names.update(node.names)
        elif isinstance(node, (ast.MatchAs, ast.MatchStar)) and node.name:
            names.add(node.name)
        elif isinstance(node, ast.MatchMapping) and node.rest:
            names.add(node.rest)
    return names


def unbound_names(source: str) -> set[str]:
    """Names ``source`` reads but binds nowhere and that are not builtins (empty when it does not
    parse, or when it star-imports: then any name may come from there)."""
    tree = _parse(source)
    if tree is None or any(isinstance(n, ast.ImportFrom) and any(a.name == "*" for a in n.names)
                           for n in ast.walk(tree)):
        return set()
    return set(_read_names(source)) - _bound_anywhere(tree) - _ALWAYS


def names_defined_elsewhere(source: str, cells: Sequence[tuple[int, str, str]]) -> list[Elsewhere]:
    """The names ``source`` (a generated module) needs that only ``cells`` (number, code, where:
    the notebook's cells that did not go into this module) define; the first defining cell each."""
    missing = unbound_names(source)
    if not missing:
        return []
    defined = [(number, top_level_names(code), where) for number, code, where in cells]
    found: list[Elsewhere] = []
    for name in sorted(missing):
        first = next(((number, where) for number, names, where in defined if name in names), None)
        if first is not None:
            found.append(Elsewhere(name, *first))
    return found


def reading_cells(name: str, cells: Sequence[tuple[int, str]]) -> list[int]:
    """The numbers of ``cells`` (number, code) whose code reads ``name`` anywhere."""
    return [number for number, code in cells if name in _read_names(code)]


def needs_display(source: str, cells: Sequence[tuple[int, str, str]]) -> bool:
    """Whether a module calls Jupyter's ``display`` (a builtin in every Jupyter kernel, a NameError
    in a plain module): it reads the name, binds it nowhere, and no other cell of the notebook
    (``cells``: number, code, where) defines it either."""
    tree = _parse(source)
    if tree is None or "display" in _bound_anywhere(tree) or "display" not in _read_names(source):
        return False
    return not any("display" in top_level_names(code) for _number, code, _where in cells)


@dataclass(frozen=True)
class CellLabels:
    """What the notes say to let a student find a cell: Jupyter shows no cell numbers."""

    quotes: Mapping[int, str] = field(default_factory=dict)  # number -> its first line, "`net = Net()`…"
    under: Mapping[int, str] = field(default_factory=dict)  # number -> the heading naming no exercise
    # above it when a section (rule 4) took the cell, "`## Experiments`"

    def ref(self, number: int, *more: str) -> str:
        """``cell 8 (`net = Net()`…, more)``"""
        parts = [part for part in (self.quotes.get(number, ""), *more) if part]
        return f"cell {number}" + (f" ({', '.join(parts)})" if parts else "")

    def refs(self, numbers: Sequence[int]) -> str:
        if len(numbers) == 1:
            return self.ref(numbers[0])
        return "cells " + ", ".join(self.ref(n)[5:] for n in numbers)


def _is_demo(code: str) -> bool:
    """A cell that defines no function and no class: a demo, a check or a try-out, most likely."""
    tree = _parse(code)
    return tree is not None and not any(isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                                        for node in tree.body)


def _plain(numbers: Sequence[int]) -> str:
    return f"cell {numbers[0]}" if len(numbers) == 1 else "cells " + ", ".join(str(n) for n in numbers)


def missing_name_notes(notebook: str, module: str, source: str, cells: Sequence[tuple[int, str, str]],
                       own: Sequence[tuple[int, str]] = (), labels: CellLabels = CellLabels()) -> list[str]:
    """A note per group of ``module``'s cells (``own``: number, code) that use names only
    ``cells`` (number, code, where: the notebook's other cells) define: a NameError once graded.
    The note names the cells (quoting their first line), says which cell defines each name, and
    advises: move the definition, or, for a cell that only demonstrates (it defines nothing),
    tag it ``skip``."""
    found = names_defined_elsewhere(source, cells)
    by_readers: dict[tuple[int, ...], list[Elsewhere]] = {}
    for item in found:
        by_readers.setdefault(tuple(reading_cells(item.name, own)), []).append(item)
    codes = dict(own)
    notes = []
    for readers, items in sorted(by_readers.items()):
        by_cell: dict[tuple[int, str], list[str]] = {}
        for item in items:
            by_cell.setdefault((item.cell, item.where), []).append(item.name)
        defined = ", and ".join(f"{', '.join(names)}, defined only in {labels.ref(cell, where)}"
                                for (cell, where), names in sorted(by_cell.items()))
        several = len(readers) > 1
        who = f"{module}: {labels.refs(readers)} use{'' if several else 's'}" if readers else f"{module} uses"
        move = (f"move {'those definitions' if len(items) > 1 else 'that definition'} before the first "
                f"exercise (or into {module}'s cells)")
        # no "; " in a note: the report joins notes with it
        note = (f"{notebook}: {who} {defined}. Graded, each exercise is its own module and only the cells "
                f"before the first exercise are shared, so this is a NameError")
        headings = [n for n in readers if n in labels.under]
        if headings:  # a cell after the last exercise's heading, under "## Experiments": graded with it
            note += (f". {_plain(headings).capitalize()} {'are' if len(headings) > 1 else 'is'} graded with "
                     f"{module}: a heading naming no exercise ({labels.under[headings[0]]}) does not end a section")
        if readers and all(_is_demo(codes[n]) for n in readers):
            note += (f". If {_plain(readers)} {'are' if several else 'is'} only a demo, give "
                     f"{'them' if several else 'it'} the cell tag `skip` (not graded then), else {move}")
        else:
            note += f": {move}"
        notes.append(note)
    return notes


def aside_demos(source: str, own: Sequence[tuple[int, str]], others: Sequence[tuple[int, str, str]],
                under: Mapping[int, str]) -> list[int]:
    """The cells of a module (``own``: number, code) to leave out: demos (no function, no class)
    under a heading naming no exercise (``under``: a final "## Summary" that a section took) that
    read names only ``others`` define. Graded with the module they would be a NameError that the
    notebook never showed, failing every test of the exercise; left out, nothing of the exercise
    is lost (a demo defines nothing its functions need)."""
    codes = dict(own)
    readers = {n for item in names_defined_elsewhere(source, others) for n in reading_cells(item.name, own)}
    return sorted(n for n in readers if n in under and _is_demo(codes[n]))


def eager_names(code: str) -> set[str]:
    """Names a cell reads while it runs at the top level of a module: everything but the bodies of
    functions and lambdas (a class body runs at once, and so do decorators, base classes and
    default values); annotations are left out (they may be postponed), and so are names the cell
    binds anywhere itself (comprehension and loop variables)."""
    tree = _parse(code)
    if tree is None:
        return set()
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pending.extend(node.decorator_list)
            pending.extend(d for d in (*node.args.defaults, *node.args.kw_defaults) if d is not None)
            continue
        if isinstance(node, ast.Lambda):
            pending.extend(node.args.defaults)
            continue
        if isinstance(node, (ast.AnnAssign, ast.arg)):
            if isinstance(node, ast.AnnAssign):
                pending.extend(n for n in (node.target, node.value) if n is not None)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            names.add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return names - _bound_anywhere(tree)  # comprehension variables, loop targets, ... of the cell itself


def used_before_defined(cells: Sequence[tuple[int, str]]) -> list[tuple[str, int, int]]:
    """``(name, cell that reads it, later cell that defines it)`` for names a module's cells (in
    module order) read while running before the cell that defines them: in a notebook run out of
    order that worked; as a module it is a NameError."""
    defined = [(number, top_level_names(code)) for number, code in cells]
    bound: set[str] = set()
    found: list[tuple[str, int, int]] = []
    for i, (number, code) in enumerate(cells):
        for name in sorted(eager_names(code) - bound - _ALWAYS - defined[i][1]):
            later = next((n for n, names in defined[i + 1:] if name in names), None)
            if later is not None:
                found.append((name, number, later))
        bound |= defined[i][1]
    return found


def order_notes(notebook: str, module: str, cells: Sequence[tuple[int, str]],
                labels: CellLabels = CellLabels()) -> list[str]:
    """A note per pair of cells where one reads a name that only a later one defines."""
    by_pair: dict[tuple[int, int], list[str]] = {}
    for name, used, defined in used_before_defined(cells):
        by_pair.setdefault((used, defined), []).append(name)
    # no "; " in a note: the report joins notes with it
    return [f"{notebook}: {module}: {labels.ref(used)} uses {', '.join(names)} as it runs, but only "
            f"{labels.ref(defined)}, further down, defines {'them' if len(names) > 1 else 'it'}. Graded, the "
            f"module runs top to bottom, so this is a NameError (it worked in Jupyter only because the cells ran "
            f"in another order): move cell {defined} (or that definition) above cell {used}"
            for (used, defined), names in sorted(by_pair.items())]
