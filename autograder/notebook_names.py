"""Names an exercise module of a notebook uses but only another part of the notebook defines.

A notebook runs top to bottom in one namespace, so ``import torch.nn as nn`` in a cell after the
first exercise, or a helper written under Exercise 1 and called from Exercise 3, works in Jupyter.
Graded, each exercise becomes its own module (:mod:`autograder.notebooks`): such a name is missing
there and the student meets a ``NameError`` that the notebook never showed. This module finds those
names before anything runs, so the conversion notes can say which cell defines the name and where
to move it. The analysis is static and deliberately simple (``ast``, no execution): a name counts as
used when it is read anywhere in the module and bound nowhere in it (any scope) and is not a
builtin.
"""

from __future__ import annotations

import ast
import builtins
import functools
from dataclasses import dataclass
from typing import Iterable, Sequence

__all__ = ["Elsewhere", "top_level_names", "unbound_names", "names_defined_elsewhere", "missing_name_notes",
           "eager_names", "used_before_defined", "order_notes"]

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
            for field in ("body", "orelse", "finalbody"):
                pending.extend(getattr(node, field, []))
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
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return loaded - _bound_anywhere(tree) - _ALWAYS


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


def missing_name_notes(notebook: str, module: str, source: str, cells: Sequence[tuple[int, str, str]]) -> list[str]:
    """A note per cell that alone defines names ``module`` uses (a NameError once graded)."""
    by_cell: dict[tuple[int, str], list[str]] = {}
    for found in names_defined_elsewhere(source, cells):
        by_cell.setdefault((found.cell, found.where), []).append(found.name)
    # no "; " in a note: the report joins notes with it
    return [f"{notebook}: {module} uses {', '.join(names)}, defined only in cell {cell} ({where}). Graded, "
            f"each exercise is its own module and only the cells before the first exercise are shared, so this "
            f"is a NameError: move that definition before the first exercise (or into {module}'s cells)"
            for (cell, where), names in sorted(by_cell.items())]


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


def order_notes(notebook: str, module: str, cells: Sequence[tuple[int, str]]) -> list[str]:
    """A note per pair of cells where one reads a name that only a later one defines."""
    by_pair: dict[tuple[int, int], list[str]] = {}
    for name, used, defined in used_before_defined(cells):
        by_pair.setdefault((used, defined), []).append(name)
    # no "; " in a note: the report joins notes with it
    return [f"{notebook}: {module}: cell {used} uses {', '.join(names)} as it runs, but only cell {defined}, "
            f"further down, defines {'them' if len(names) > 1 else 'it'}. Graded, the module runs top to bottom, "
            f"so this is a NameError (it worked in Jupyter only because the cells ran in another order): "
            f"move cell {defined} (or that definition) above cell {used}"
            for (used, defined), names in sorted(by_pair.items())]
