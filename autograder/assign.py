"""``grade assign``: build the student template from the reference solutions, or check it is current.

Markers, in ``solutions/<module>.py``, each a comment alone on its line::

    def conv2d_output_size(size, kernel_size, ...):
        \"\"\"The docstring students read (both files keep it).\"\"\"
        # TODO: Implement the formula above.        <- ordinary comments: both files keep them,
        # Hints: ...                                   so students read what the solution answers
        # BEGIN SOLUTION                           <- from here ...
        out = ...
        return out
        # END SOLUTION                             <- ... to here becomes, in the template,
                                                      raise NotImplementedError("conv2d_output_size")

    # BEGIN SOLUTION NO PROMPT                     <- solution-only lines (a helper, a note for
    def _freeze(module): ...                          instructors): the template drops them, and
    # END SOLUTION                                    the blank lines after them

The ``raise`` is indented like the markers and names the enclosing function (``Net.forward``). A
block with no ``# TODO`` comment right above it gets ``# TODO: your code here.``. Malformed markers
(a BEGIN without END, a nested BEGIN, an END without BEGIN, a misspelt or trailing marker) raise
:class:`MarkerError` naming the file and line.

What the template holds, and where each file comes from:

* one stub per exercise module: generated from the solutions (above);
* ``assignment.toml``: generated from the course manifest (exercises, points, limits; no paths to
  instructor folders);
* ``.github/workflows/grade.yml``: generated (:mod:`autograder.workflow`);
* ``tests/``: copied from the manifest's ``public_tests`` (in this course they live in the template
  itself, so they are their own source);
* ``assignments/exN.md``: each exercise's ``handout``, copied from next to the manifest (the stubs
  and public tests point students to it);
* ``README.md`` and ``requirements.txt``: hand-written, kept in the template folder and copied
  from there when the template is written elsewhere (``--out``).
"""

from __future__ import annotations

import ast
import io
import json
import os
import re
import sys
import tempfile
import tokenize
from dataclasses import dataclass
from pathlib import Path

from autograder.manifest import Manifest
from autograder.workflow import WORKFLOW_PATH, render_workflow

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["AssignError", "MarkerError", "Block", "Difference", "AssignResult", "parse_blocks", "make_stub",
           "student_manifest", "build_template", "write_template", "check_template"]

BEGIN, BEGIN_NO_PROMPT, END = "# BEGIN SOLUTION", "# BEGIN SOLUTION NO PROMPT", "# END SOLUTION"
DEFAULT_TODO = "# TODO: your code here."
TESTS_DIR = "tests"
HANDOUTS_DIR = "assignments"  # the same path as in the course repo, so references hold
KEPT_FILES = ("README.md", "requirements.txt")  # hand-written, live in the template folder
IGNORED = {"__pycache__", ".pytest_cache", ".hypothesis", ".DS_Store", ".git", ".venv", "grading"}
_LOOKS_LIKE_MARKER = re.compile(r"#+\s*(begin|end)[\s_-]*solution", re.IGNORECASE)
_LIMIT_KEYS = ("call_seconds", "test_seconds", "run_seconds", "memory_mb")


class AssignError(ValueError):
    """The template cannot be built (a missing path or file, an unsafe output folder)."""


class MarkerError(AssignError):
    """A solution module's markers are malformed; the message starts with ``file:line:``."""


@dataclass(frozen=True)
class Block:
    begin: int  # 1-based line of the BEGIN marker
    end: int  # 1-based line of the END marker
    indent: str
    prompt: bool  # False for "NO PROMPT": dropped from the template
    qualname: str = ""  # the enclosing function, for the raise


@dataclass(frozen=True)
class Difference:
    path: str  # relative to the template folder, with /
    problem: str

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class AssignResult:
    out: Path
    written: tuple[str, ...]
    unchanged: tuple[str, ...]
    extra: tuple[str, ...]  # files in ``out`` that the template does not hold


# -- markers ---------------------------------------------------------------------------------

def _lines(source: str) -> list[str]:
    """Lines split at \\n only (as tokenize reads them; splitlines also splits at \\f, \\u2028, ...)."""
    return io.StringIO(source).readlines()


def _markers(source: str, where: str) -> list[tuple[int, str, str]]:
    """(line, marker, indent) of every marker comment, checked for spelling and placement."""
    lines = [line.rstrip("\r\n") for line in _lines(source)]
    found = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
            if tok.type != tokenize.COMMENT or not _LOOKS_LIKE_MARKER.match(tok.string):
                continue
            row, col = tok.start
            text, before = tok.string.rstrip(), lines[row - 1][:col]
            if before.strip():
                raise MarkerError(f"{where}:{row}: a marker must be alone on its line, got {lines[row - 1].strip()!r}")
            if text not in (BEGIN, BEGIN_NO_PROMPT, END):
                raise MarkerError(f"{where}:{row}: malformed marker {text!r}: write exactly {BEGIN!r}, "
                                  f"{BEGIN_NO_PROMPT!r} or {END!r}")
            found.append((row, text, before))
    except (tokenize.TokenError, SyntaxError) as exc:
        row = exc.args[1][0] if isinstance(exc, tokenize.TokenError) else exc.lineno
        raise MarkerError(f"{where}:{row}: not valid Python ({exc.args[0]})") from None
    return found


def _functions(tree: ast.AST, lines: list[str]) -> list[tuple[int, int, int, str]]:
    """(def line, last line, column, qualified name) of every function; the last line reaches over
    trailing comments and blank lines that are indented under the def."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                last = child.end_lineno or child.lineno
                while last < len(lines) and (not lines[last].strip()
                                             or len(lines[last]) - len(lines[last].lstrip()) > child.col_offset):
                    last += 1
                found.append((child.lineno, last, child.col_offset, prefix + child.name))
                visit(child, f"{prefix}{child.name}.<locals>.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


def parse_blocks(source: str, where: str = "<string>") -> tuple[Block, ...]:
    """The solution blocks of ``source``; raises :class:`MarkerError` (``where:line: ...``)."""
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise MarkerError(f"{where}:{exc.lineno}: not valid Python ({exc.msg})") from None
    blocks, opened = [], None
    for row, text, indent in _markers(source, where):
        if text != END:
            if opened is not None:
                raise MarkerError(f"{where}:{row}: nested {text!r}: the block opened at line {opened[0]} "
                                  f"is not closed yet (add {END!r} before this line)")
            opened = (row, text, indent)
            continue
        if opened is None:
            raise MarkerError(f"{where}:{row}: {END!r} without a {BEGIN!r} before it")
        if indent != opened[2]:
            raise MarkerError(f"{where}:{row}: {END!r} is indented {len(indent)} columns but its "
                              f"{opened[1]!r} (line {opened[0]}) {len(opened[2])}: indent them alike")
        blocks.append(Block(opened[0], row, indent, prompt=opened[1] == BEGIN))
        opened = None
    if opened is not None:
        raise MarkerError(f"{where}:{opened[0]}: {opened[1]!r} has no {END!r} after it")
    functions = _functions(tree, [line.rstrip("\r\n") for line in _lines(source)])
    named = []
    for block in blocks:
        if block.prompt:
            around = [f for f in functions if f[0] < block.begin <= f[1] and f[2] < len(block.indent)]
            if not around:
                raise MarkerError(f"{where}:{block.begin}: {BEGIN!r} is not inside a function, so the stub "
                                  f"cannot raise NotImplementedError there; use {BEGIN_NO_PROMPT!r} for "
                                  f"code students do not get at all")
            function = max(around)
            if block.end > function[1]:
                raise MarkerError(f"{where}:{block.end}: this {END!r} is past the end of {function[3]} "
                                  f"(lines {function[0]}-{function[1]}), where its {BEGIN!r} (line {block.begin}) "
                                  f"is: a block must end in the function it starts in, or the stub would lose "
                                  f"the code between")
            block = Block(block.begin, block.end, block.indent, True, function[3])
        named.append(block)
    return tuple(named)


def _has_todo_above(lines: list[str], block: Block) -> bool:
    i = block.begin - 2
    while i >= 0 and lines[i].startswith(block.indent + "#"):
        if "TODO" in lines[i]:
            return True
        i -= 1
    return False


def make_stub(source: str, where: str = "<string>") -> str:
    """The student's stub of a solution module: every block replaced or dropped (see the module doc)."""
    lines = _lines(source)
    bare = [line.rstrip("\r\n") for line in lines]
    out, i = [], 0
    for block in parse_blocks(source, where):
        out += lines[i:block.begin - 1]
        i = block.end
        if block.prompt:
            newline = "\r\n" if lines[block.end - 1].endswith("\r\n") else "\n"
            if not _has_todo_above(bare, block):
                out.append(f"{block.indent}{DEFAULT_TODO}{newline}")
            out.append(f'{block.indent}raise NotImplementedError("{block.qualname}"){newline}')
        else:
            while i < len(lines) and not lines[i].strip():
                i += 1
    return "".join(out + lines[i:])


# -- the student's manifest ------------------------------------------------------------------

def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return json.dumps(str(value), ensure_ascii=False)  # a TOML basic string


def student_manifest(manifest: Manifest) -> str:
    """``assignment.toml`` for the student repo: the exercises, their points and limits (as the
    course manifest writes them, so local checks run under the official limits), no paths to
    instructor folders."""
    raw = tomllib.loads(manifest.path.read_text(encoding="utf-8"))
    lines = ["# The assignment manifest of your repository: which exercise lives in which file.",
             "# `grade check ex2` reads it to know what to grade. Do not edit it.", "",
             "[assignment]", f"name = {_toml(manifest.name)}", f"title = {_toml(manifest.title)}", "",
             "[paths]", f"public_tests = {_toml(TESTS_DIR)}", ""]
    limits = raw.get("limits", {})
    if limits:
        lines += ["[limits]"] + [f"{k} = {_toml(v)}" for k, v in limits.items() if k in _LIMIT_KEYS] + [""]
    for ex in manifest.exercises:
        table = raw["exercises"][ex.name]
        lines += [f"[exercises.{ex.name}]", f"module = {_toml(ex.module)}", f"title = {_toml(ex.title)}",
                  f"points = {_toml(ex.points)}"]
        lines += [f"{k} = {_toml(v)}" for k, v in table.items() if k in _LIMIT_KEYS] + [""]
    return "\n".join(lines[:-1]) + "\n"


# -- the whole template ----------------------------------------------------------------------

def _files_under(folder: Path) -> list[Path]:
    """Every file under ``folder``, relative, skipping caches and tool folders."""
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED)
        found += [Path(root, f).relative_to(folder) for f in sorted(files)
                  if f not in IGNORED and not f.endswith((".pyc", ".pyo"))]
    return found


def _required(manifest: Manifest) -> tuple[Path, Path]:
    missing = [k for k in ("solutions", "template", "public_tests") if getattr(manifest, k) is None]
    if missing:
        raise AssignError(f"{manifest.path}: [paths] needs {', '.join(missing)} for grade assign")
    if manifest.hidden_tests is not None and manifest.public_tests.resolve() == manifest.hidden_tests.resolve():
        raise AssignError(f"{manifest.path}: public_tests and hidden_tests are the same folder: the hidden "
                          f"suites would be copied into the student template")
    return manifest.solutions, manifest.template


_EXERCISE_MARK = re.compile(r"pytest\.mark\.exercise\(\s*[\"']([^\"']+)[\"']")


def build_template(manifest: Manifest) -> dict[str, bytes]:
    """Every file the template holds (relative path with / -> content); reads, never writes."""
    solutions, template = _required(manifest)
    files: dict[str, bytes] = {}
    for ex in manifest.exercises:
        source = solutions / ex.module
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise AssignError(f"{source}: cannot read the solution of {ex.name} ({exc})") from None
        files[ex.module] = make_stub(text, str(source)).encode("utf-8")
    for ex in manifest.exercises:  # the handouts the stubs and public tests point to (assignments/ex2.md)
        if ex.handout:
            handout = manifest.path.parent / ex.handout
            if not handout.is_file():
                raise AssignError(f"{manifest.path}: exercises.{ex.name}.handout names {handout}, which does "
                                  f"not exist")
            files[f"{HANDOUTS_DIR}/{ex.handout}"] = handout.read_bytes()
    files["assignment.toml"] = student_manifest(manifest).encode("utf-8")
    files[WORKFLOW_PATH] = render_workflow(manifest).encode("utf-8")
    for name in KEPT_FILES:
        if not (template / name).is_file():
            raise AssignError(f"{template / name}: missing; it is hand-written and kept in the template folder")
        files[name] = (template / name).read_bytes()
    if not manifest.public_tests.is_dir():
        raise AssignError(f"{manifest.public_tests}: the public tests folder (paths.public_tests) does not exist")
    for rel in _files_under(manifest.public_tests):
        content = (manifest.public_tests / rel).read_bytes()
        stray = sorted(set(_EXERCISE_MARK.findall(content.decode("utf-8", "replace"))) - set(manifest.names))
        if rel.suffix == ".py" and stray:
            raise AssignError(f"{manifest.public_tests / rel}: tests exercise {', '.join(stray)}, which the manifest "
                              f"does not have ({', '.join(manifest.names)}): every `grade check` of the students "
                              f"would stop with a grader error. Delete the file (or fix its marker)")
        files[f"{TESTS_DIR}/{rel.as_posix()}"] = content
    return files


def _check_out(manifest: Manifest, out: Path) -> None:
    solutions = manifest.solutions.resolve()
    protected = [solutions, manifest.path.parent.resolve()]
    protected += [manifest.hidden_tests.resolve()] if manifest.hidden_tests else []
    target = out.resolve()
    for folder in protected:
        if target == folder or target in folder.parents:
            raise AssignError(f"refusing to write the template into {out}: it holds {folder} (instructor files)")


def _write_atomic(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_template(manifest: Manifest, out: Path | None = None) -> AssignResult:
    """Write the template into ``out`` (default: the manifest's template folder); the Python API
    behind ``grade assign``. Everything is built before anything is written."""
    files = build_template(manifest)
    out = Path(out) if out is not None else manifest.template
    _check_out(manifest, out)
    written, unchanged = [], []
    for rel, content in files.items():
        path = out / rel
        if path.is_file() and path.read_bytes() == content:
            unchanged.append(rel)
        else:
            _write_atomic(path, content)
            written.append(rel)
    extra = sorted(p.as_posix() for p in _files_under(out) if p.as_posix() not in files)
    return AssignResult(out, tuple(written), tuple(unchanged), tuple(extra))


def _first_difference(a: bytes, b: bytes) -> int:
    for number, (x, y) in enumerate(zip(a.splitlines(), b.splitlines()), 1):
        if x != y:
            return number
    return min(len(a.splitlines()), len(b.splitlines())) + 1


def check_template(manifest: Manifest, template: Path | None = None) -> tuple[Difference, ...]:
    """How the template folder (default: the manifest's) differs from what would be generated:
    an empty tuple when it is current; the Python API behind ``grade assign --check``."""
    files = build_template(manifest)
    folder = Path(template) if template is not None else manifest.template
    if not folder.is_dir():
        return (Difference(str(folder), "the template folder does not exist"),)
    on_disk = {p.as_posix() for p in _files_under(folder)}
    found = []
    for rel in sorted(set(files) | on_disk):
        if rel not in on_disk:
            found.append(Difference(rel, "missing (grade assign would write it)"))
        elif rel not in files:
            found.append(Difference(rel, "not generated: students would receive a file the template "
                                         "should not hold (delete it: grade assign never deletes files; or "
                                         "add it to the solutions)"))
        elif (folder / rel).read_bytes() != files[rel]:
            line = _first_difference((folder / rel).read_bytes(), files[rel])
            found.append(Difference(rel, f"differs from the generated file (first at line {line})"))
    return tuple(found)
