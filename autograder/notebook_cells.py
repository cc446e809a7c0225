"""Reading a Jupyter notebook submitted as a student's work: its cells, as plain data, and the
IPython syntax in a cell's text.

The notebook is read as JSON (nbformat 4), never executed, and never more than
:data:`MAX_NOTEBOOK_BYTES` of it; anything malformed raises :class:`NotebookError` naming the
file. :mod:`autograder.notebooks` turns the cells into exercise modules; :func:`clean_ipython`
makes a cell's text plain Python for it, and :func:`cell_quote` gives the line a note quotes so
that a student can find the cell (Jupyter shows no cell numbers).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

__all__ = ["MAX_NOTEBOOK_BYTES", "NotebookError", "Cell", "read_cells", "statement_starts", "clean_ipython",
           "cell_magic", "cell_quote", "shorten"]

MAX_NOTEBOOK_BYTES = 20 * 2**20


class NotebookError(ValueError):
    """A notebook cannot be converted; the message names the file and says what to do."""


@dataclass(frozen=True)
class Cell:
    number: int  # 1-based position in the notebook, as a student counts cells
    kind: str  # "code", "markdown" or "raw"
    source: str
    tags: tuple[str, ...] = ()


def read_cells(path: Path, max_bytes: int = MAX_NOTEBOOK_BYTES) -> list[Cell]:
    """The cells of the notebook at ``path`` (JSON, nbformat 4); :class:`NotebookError` if it is
    unreadable, bigger than ``max_bytes``, malformed or not a Python notebook."""
    path = Path(path)
    name = path.name
    try:
        with open(path, "rb") as fh:
            data = fh.read(max_bytes + 1)  # never more than the cap, whatever the file claims
    except OSError as exc:
        raise NotebookError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise NotebookError(f"{name} is bigger than {max_bytes / 2**20:g} MB, the limit for a notebook; clear "
                            f"its outputs (Jupyter: Edit > Clear Outputs of All Cells), save it and submit it again")
    try:
        notebook = json.loads(data)
    except UnicodeDecodeError:
        raise NotebookError(f"{name} is not a notebook: it is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{name} is not a valid notebook: its JSON is malformed at line {exc.lineno}, "
                            f"column {exc.colno} ({exc.msg}); open it in Jupyter and save it again") from None
    except RecursionError:
        raise NotebookError(f"{name} is not a valid notebook: its JSON is nested too deeply") from None
    if not isinstance(notebook, dict):
        raise NotebookError(f"{name} is not a valid notebook: the top level is not a JSON object")
    version = notebook.get("nbformat")
    if "worksheets" in notebook or (isinstance(version, int) and version < 4):
        raise NotebookError(f"{name} is an old notebook (nbformat {version}); open it in Jupyter and save it "
                            f"again to upgrade it to nbformat 4")
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise NotebookError(f"{name} is not a valid notebook: it has no \"cells\" list")
    metadata = notebook.get("metadata")
    language = _language(metadata) if isinstance(metadata, dict) else None
    if language is not None and "python" not in language.lower():
        raise NotebookError(f"{name} is a notebook for {language}, not Python; only Python notebooks can be graded")
    return [_cell(name, number, raw) for number, raw in enumerate(cells, 1)]


def _language(metadata: dict) -> str | None:
    for key in ("language_info", "kernelspec"):
        value = metadata.get(key)
        if isinstance(value, dict):
            language = value.get("name" if key == "language_info" else "language")
            if isinstance(language, str) and language:
                return language
    return None


def _cell(name: str, number: int, raw: object) -> Cell:
    def bad(what: str) -> NotebookError:
        return NotebookError(f"{name} is not a valid notebook: cell {number} {what}")

    if not isinstance(raw, dict):
        raise bad("is not a JSON object")
    kind = raw.get("cell_type")
    if not isinstance(kind, str):
        raise bad("has no cell_type")
    source = raw.get("source", "")
    if isinstance(source, list) and all(isinstance(part, str) for part in source):
        source = "".join(source)
    if not isinstance(source, str):
        raise bad("has a source that is neither text nor a list of lines")
    metadata = raw.get("metadata", {})
    if not isinstance(metadata, dict):
        raise bad("has metadata that is not a JSON object")
    tags = metadata.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise bad("has tags that are not a list of strings")
    return Cell(number, kind, source.replace("\r\n", "\n").replace("\r", "\n"), tuple(tags))


# ----------------------------------------------------------------------------------------------
# IPython syntax in a cell's text

_SHELL_ASSIGN = re.compile(r"^[\w.,\s()\[\]]+=\s*[!%]")
_COLAB = re.compile(r"^(?:from\s+google\.colab\b|import\s+google\.colab\b|drive\.mount\s*\()")
_HELP = re.compile(r"^(?:\?{1,2}[\w.]+|[\w.()\[\]]+\?{1,2})\s*$")
# ``%time stmt`` (and ``x = %time expr``) runs its statement in IPython: keep the statement
_TIME = re.compile(r"^((?:[\w.,\s()\[\]]+=\s*)?)%time\s+(\S.*)$")


def statement_starts(lines: Sequence[str]) -> list[bool]:
    """For each line, whether it starts a new statement (not inside brackets, a string or after a
    backslash), so that ``% 2`` continuing an expression is not taken for a magic."""
    starts, depth, quote, continued = [], 0, "", False
    for line in lines:
        starts.append(depth == 0 and not quote and not continued)
        i, continued = 0, False
        while i < len(line):
            ch = line[i]
            if quote:
                if ch == "\\":
                    i += 2
                    continue
                if line.startswith(quote, i):
                    i, quote = i + len(quote), ""
                    continue
            elif ch == "#":
                break
            elif ch in "\"'":
                quote = ch * 3 if line.startswith(ch * 3, i) else ch
                i += len(quote)
                continue
            elif ch in "([{":
                depth += 1
            elif ch in ")]}":
                depth = max(0, depth - 1)
            i += 1
        if quote in ("'", '"'):  # a one-line string left open: a syntax error, not our business
            quote = ""
        continued = line.rstrip().endswith("\\") and not quote
    return starts


def _is_ipython_line(stripped: str) -> bool:
    """IPython syntax, or Colab's own set-up (mounting Google Drive), which only runs in Colab."""
    return (stripped.startswith(("%", "!")) or bool(_SHELL_ASSIGN.match(stripped))
            or bool(_HELP.match(stripped)) or bool(_COLAB.match(stripped)))


def clean_ipython(code: str) -> tuple[str, int]:
    """``code`` with IPython lines commented out (``pass`` keeps an indented block valid), and how
    many lines that was. A ``%time stmt`` line keeps its statement (IPython runs it in the
    notebook's namespace, as a ``%%time`` cell runs its body), without the magic: the line keeps
    its place and indentation. ``%timeit`` lines are commented out (their assignments do not stay)."""
    lines = code.split("\n")
    count = 0
    for i, (line, start) in enumerate(zip(lines, statement_starts(lines))):
        stripped = line.strip()
        if start and stripped and _is_ipython_line(stripped):
            indent = line[: len(line) - len(line.lstrip())]
            timed = _TIME.match(stripped)
            if timed:
                lines[i] = f"{indent}{timed.group(1)}{timed.group(2)}"
                continue
            lines[i] = f"{indent}{'pass  ' if indent else ''}# [notebook: IPython syntax, not run] {stripped}"
            count += 1
    return "\n".join(lines), count


def cell_magic(code: str) -> tuple[str, str, str]:
    """(magic name, its argument line, the body) when the cell starts with ``%%``, else ("", "", code)."""
    lines = code.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not lines[first].lstrip().startswith("%%"):
        return "", "", code
    head = lines[first].strip()[2:].split(None, 1)
    name = head[0].lower() if head else ""
    return name, head[1] if len(head) > 1 else "", "\n".join(lines[first + 1:])


def shorten(text: str, limit: int = 40) -> tuple[str, bool]:
    """``text`` on one line, cut to about ``limit`` characters, safe inside a note (no backtick,
    no "; ": the report splits its notes on it), and whether it was cut."""
    text = " ".join(text.split()).replace("`", "'").replace("; ", ";")
    if len(text) <= limit:
        return text, False
    space = text.rfind(" ", 0, limit + 1)  # at a word's end, unless that leaves too little
    return text[:space if space > limit // 2 else limit].rstrip(), True


def cell_quote(source: str, limit: int = 40) -> str:
    """The cell's first line of code (comments, blank lines and a ``%%`` line skipped, unless the
    cell holds nothing else), shortened, in backticks, with "…" when the cell goes on, e.g.
    "`net = Net()`…". Notes quote it because Jupyter shows no cell numbers."""
    lines = [line.strip() for line in source.split("\n") if line.strip()]
    code = [i for i, line in enumerate(lines) if not line.startswith(("#", "%%"))]
    if not lines:
        return ""
    first = code[0] if code else 0
    text, cut = shorten(lines[first], limit)
    return f"`{text}`" + ("…" if cut or first < len(lines) - 1 else "")
