"""Reading a Jupyter notebook submitted as a student's work: its cells, as plain data.

The notebook is read as JSON (nbformat 4), never executed, and never more than
:data:`MAX_NOTEBOOK_BYTES` of it; anything malformed raises :class:`NotebookError` naming the
file. :mod:`autograder.notebooks` turns the cells into exercise modules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

__all__ = ["MAX_NOTEBOOK_BYTES", "NotebookError", "Cell", "read_cells"]

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
