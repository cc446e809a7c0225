"""Find the submissions of a batch: one folder per student, zip files, or an LMS export (a zip of
zips), with the exercise modules found by name even when nested one folder deep.

Zip files are untrusted: extraction refuses absolute paths, ``..`` components and links, and stops
at caps on the number of entries, the total unpacked size and the compression ratio (zip bombs).
Only Python files and notebooks are unpacked. A submission that cannot be read becomes a
:class:`Submission` with a ``problem`` (a row with a reason in the gradebook), never an exception.

Notebooks (:mod:`autograder.notebooks`): a bare ``alice.ipynb`` in the submissions folder is
alice's submission, and a folder (or zip) holding notebooks but no exercise module is one too. Its
notebooks are converted into the exercise modules under the work folder when the batch is
discovered, so the cache key (a hash of the modules) follows the notebook's code, and a malformed
notebook becomes that student's ``problem``. A folder holding both keeps its ``.py`` files.
"""

from __future__ import annotations

import re
import shutil
import stat
import unicodedata
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Sequence

from autograder.lms_exports import LooseStudent, group_loose_files
from autograder.notebooks import NotebookError, find_notebooks, notebook_to_modules

__all__ = ["ZipLimits", "SubmissionError", "Submission", "safe_extract", "find_module_folder", "near_name", "discover"]

KEPT_SUFFIXES = (".py", ".ipynb")


@dataclass(frozen=True)
class ZipLimits:
    max_entries: int = 5000
    max_total_bytes: int = 64 * 2**20  # unpacked, kept files only
    max_file_bytes: int = 16 * 2**20
    max_ratio: float = 200.0  # unpacked / packed, per file over 1 MB


class SubmissionError(ValueError):
    """A submission cannot be read; the message says why in words a TA can act on."""


@dataclass(frozen=True)
class Submission:
    name: str  # the student's id: folder or zip name, made safe for file names
    source: Path  # the folder or zip it came from
    folder: Path | None  # where its exercise modules are; None when it cannot be graded
    problem: str = ""  # why it cannot be graded
    notes: tuple[str, ...] = ()  # e.g. which notebook cells became which module
    file_notes: tuple[str, ...] = ()  # which files were chosen: the latest attempt, a backup/ left aside

    @property
    def readable(self) -> bool:
        return self.folder is not None


# Moodle's "download submissions in folders": ``Jane Doe_123456_assignsubmission_file_/`` is Jane Doe_123456
_MOODLE_FOLDER = re.compile(r"_assignsubmission_[a-z]+_?$")


def _clean_name(raw: str) -> str:
    """Letters and digits of any script kept (李雷, Zoë), everything else (spaces, punctuation,
    path separators) folded into "_"."""
    return re.sub(r"[^\w.-]+", "_", unicodedata.normalize("NFC", raw)).strip("._")[:100] or "submission"


def _safe_name(raw: str, taken: set[str], reserved: frozenset[str] = frozenset()) -> str:
    """A file-name-safe, unique student name. A name another submission has exactly as it is
    (``reserved``: ``bo_b/`` beside ``bo b/``) stays theirs; the other gets ``-2``, ``-3``, ..."""
    name = _clean_name(raw)
    base, i = name, 2
    while name in taken or (name in reserved and name != raw):
        name, i = f"{base}-{i}", i + 1
    taken.add(name)
    return name


def _noted_renames(found: list[Submission], raws: dict[str, str]) -> list[Submission]:
    """A note on each submission whose name had to differ from its cleaned-up own (two uploads
    that clean up to the same name): the gradebook's source column and this note tell them apart."""
    out = []
    for sub in found:
        raw = raws.get(sub.name)
        if raw is not None and sub.name != _clean_name(raw):
            note = (f"named {sub.name}: {raw!r} cleans up to {_clean_name(raw)}, the name of another submission "
                    f"too (see the source column)")
            sub = replace(sub, file_notes=(note, *sub.file_notes))
        out.append(sub)
    return out


def safe_extract(archive: Path, into: Path, limits: ZipLimits = ZipLimits(),
                 suffixes: Sequence[str] = KEPT_SUFFIXES) -> list[Path]:
    """Unpack the files of ``archive`` whose names end in ``suffixes`` into ``into``; returns them."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SubmissionError(f"{archive.name} is not a readable zip file ({exc})") from None
    written, total = [], 0
    with zf:
        entries = zf.infolist()
        if len(entries) > limits.max_entries:
            raise SubmissionError(f"{archive.name} has {len(entries)} entries (limit {limits.max_entries})")
        for info in entries:
            path = PurePosixPath(info.filename.replace("\\", "/"))
            if path.is_absolute() or ".." in path.parts or re.match(r"^[A-Za-z]:", info.filename):
                raise SubmissionError(f"{archive.name} holds a path outside its folder: {info.filename!r}")
            if stat.S_ISLNK(info.external_attr >> 16):
                raise SubmissionError(f"{archive.name} holds a link: {info.filename!r}")
            if info.is_dir() or path.suffix not in suffixes or "__MACOSX" in path.parts:
                continue
            if info.file_size > limits.max_file_bytes:
                raise SubmissionError(f"{archive.name}: {info.filename} unpacks to {info.file_size} bytes "
                                      f"(limit {limits.max_file_bytes})")
            if info.file_size > 2**20 and info.file_size > limits.max_ratio * max(info.compress_size, 1):
                raise SubmissionError(f"{archive.name}: {info.filename} is compressed {info.file_size // max(info.compress_size, 1)}"
                                      f"-fold (a zip bomb?)")
            total += info.file_size
            if total > limits.max_total_bytes:
                raise SubmissionError(f"{archive.name} unpacks to more than {limits.max_total_bytes} bytes")
            target = into.joinpath(*path.parts)
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src:
                    data = src.read(limits.max_file_bytes + 1)  # the header's size may lie
                if len(data) > limits.max_file_bytes:
                    raise SubmissionError(f"{archive.name}: {info.filename} unpacks to more than it claims")
                target.write_bytes(data)
            except (OSError, zipfile.BadZipFile, RuntimeError, EOFError) as exc:  # a name clash, a name too long, a bad entry
                raise SubmissionError(f"{archive.name}: cannot unpack {info.filename[:120]!r} "
                                      f"({type(exc).__name__}: {str(exc)[:120]})") from None
            written.append(target)
    return written


def near_name(folder: Path, name: str) -> Path | None:
    """The one file in ``folder`` that is ``name`` saved under a near name: other letter case, a
    download's " (1)" or " - Copy", spaces or hyphens for underscores, a ".txt" added by an editor."""
    def canonical(file_name: str) -> str:
        stem = file_name.lower().removesuffix(".txt")
        if not stem.endswith(".py"):
            return ""
        stem = re.sub(r"\s*(\(\d+\)|-?\s*copy(\s*\d+)?)$", "", stem[:-3].strip())
        return re.sub(r"[\s-]+", "_", stem) + ".py"

    found = [p for p in folder.iterdir() if p.is_file() and not p.is_symlink() and canonical(p.name) == name]
    return found[0] if len(found) == 1 else None


def _module_file(path: Path) -> bool:
    return path.is_file() and not path.is_symlink()  # a link could point at another student's file


def _has_module(folder: Path, module: str) -> bool:
    """``module`` is in ``folder`` under its own name, or saved under a near one."""
    return _module_file(folder / module) or near_name(folder, module) is not None


def find_module_folder(folder: Path, modules: Sequence[str]) -> Path | None:
    """The folder holding the exercise modules: ``folder`` itself or one folder below it (the one
    with the most modules); failing that, the first of them holding a notebook; None when neither
    is found. Links (to folders or modules) are never followed."""
    candidates = [folder] + sorted(p for p in folder.iterdir()
                                   if p.is_dir() and not p.is_symlink() and not p.name.startswith("."))
    counts = {c: sum(_has_module(c, m) for m in modules) for c in candidates}
    best = max(candidates, key=counts.__getitem__)
    if counts[best]:
        return best
    return next((c for c in candidates if find_notebooks(c)), None)


def _folder_notes(folder: Path, found: Path, modules: Sequence[str]) -> tuple[str, ...]:
    """What a TA should know about the folder chosen: other copies of the modules left aside,
    links not followed."""
    notes = []
    others = [p for p in sorted(folder.iterdir()) if p.is_dir() and p != found and not p.is_symlink()
              and any(_module_file(p / m) for m in modules)]
    if found != folder and any(_module_file(folder / m) for m in modules):
        others.insert(0, folder)
    if others:
        where = ", ".join(("the top folder" if p == folder else p.name + "/") for p in others)
        notes.append(f"graded {'the top folder' if found == folder else found.name + '/'}; other copies of "
                     f"the exercise modules left aside in {where}")
    links = [p.name for p in [*folder.iterdir(), *found.iterdir()] if p.is_symlink()]
    if links:
        notes.append(f"links not followed: {', '.join(sorted(set(links))[:5])}")
    return tuple(notes)


def _from_notebooks(name: str, source: Path, notebooks: Sequence[Path], modules: Sequence[str],
                    notebook_dir: Path) -> Submission:
    """Convert ``notebooks`` into a fresh folder of exercise modules (``notebook_dir/name``)."""
    into = notebook_dir / name
    if into.exists():  # a re-run: what an earlier version of the notebook gave must not linger
        shutil.rmtree(into)
    try:
        notes = notebook_to_modules(notebooks, modules, into)
    except NotebookError as exc:
        return Submission(name, source, None, str(exc))
    return Submission(name, source, into, notes=tuple(notes))


def _from_folder(name: str, source: Path, folder: Path, modules: Sequence[str], notebook_dir: Path,
                 unpack: tuple[Path, ZipLimits] | None = None) -> Submission:
    """``unpack`` (where to, with which limits): a folder holding nothing but one zip (Moodle's
    "download all" gives each student a folder with the file they uploaded) is that zip."""
    found = find_module_folder(folder, modules)
    if found is None and unpack is not None:
        zips = [p for p in folder.iterdir() if p.suffix.lower() == ".zip" and p.is_file() and not p.is_symlink()]
        if len(zips) == 1:
            return _from_zip(name, zips[0], unpack[0], modules, unpack[1], notebook_dir)
        if len(zips) > 1:  # an upload and a re-upload: which one counts is the TA's call
            return Submission(name, source, None, f"{len(zips)} zips ({', '.join(sorted(p.name for p in zips)[:4])}) "
                                                  "and no exercise module: keep the one to grade")
    if found is None:
        links = sorted(p.name for p in folder.iterdir() if p.is_symlink())
        return Submission(name, source, None, f"no exercise module ({', '.join(modules)}) or notebook at "
                                              f"the top or one folder deep"
                          + (f" (links are not followed: {', '.join(links[:5])})" if links else ""))
    if not any(_has_module(found, m) for m in modules):
        return _from_notebooks(name, source, find_notebooks(found), modules, notebook_dir)
    return Submission(name, source, found, file_notes=_folder_notes(folder, found, modules))


def _from_zip(name: str, archive: Path, workdir: Path, modules: Sequence[str], limits: ZipLimits,
              notebook_dir: Path) -> Submission:
    into = workdir / name
    if into.exists():  # a re-run: files of an earlier upload must not linger
        shutil.rmtree(into)
    try:
        safe_extract(archive, into, limits)
    except SubmissionError as exc:
        return Submission(name, archive, None, str(exc))
    into.mkdir(parents=True, exist_ok=True)
    return _from_folder(name, archive, into, modules, notebook_dir)


def discover(root: Path, modules: Sequence[str], workdir: Path, limits: ZipLimits = ZipLimits(),
             exclude: Sequence[Path] = ()) -> list[Submission]:
    """Every submission under ``root`` (a folder of folders, zips and/or notebooks, or one zip of
    those), sorted by name; zips are unpacked and notebooks converted under ``workdir``. ``exclude``:
    folders that are not submissions although they lie in ``root`` (the batch's own output)."""
    root = Path(root)
    if not root.exists():
        raise SubmissionError(f"submissions not found: {root}")
    if root.is_file():  # an LMS export: one zip holding a zip or a folder per student
        export = workdir / "_export"
        if export.exists():  # a re-run on a new download: nothing of the old one may linger
            shutil.rmtree(export)
        try:
            safe_extract(root, export, limits, suffixes=KEPT_SUFFIXES + (".zip",))
        except SubmissionError as exc:
            raise SubmissionError(f"cannot read the export: {exc}") from None
        entries = list(export.iterdir()) if export.exists() else []
        if len(entries) == 1 and entries[0].is_dir() and not any(entries[0].glob("*.py")):
            entries = list(entries[0].iterdir())  # the export's own top folder
    else:
        entries = list(root.iterdir())
    taken: set[str] = set()
    notebook_dir = workdir / "notebooks"
    skip = {Path(p).resolve() for p in exclude}
    entries = sorted((e for e in entries if not e.name.startswith(".") and e.name != "__MACOSX"
                      and e.resolve() not in skip), key=lambda p: p.name)
    loose = [e for e in entries if e.suffix in KEPT_SUFFIXES and not e.is_dir()]
    students, unknown = group_loose_files(loose, modules)  # a flat export: Canvas, Blackboard, Moodle
    bare = [e for e in unknown if e.suffix == ".ipynb"]  # alice.ipynb: alice's notebook
    found = []
    own = {e: _MOODLE_FOLDER.sub("", e.stem if not e.is_dir() else e.name) for e in [e for e in entries if e not in loose] + bare}
    reserved = frozenset(raw for raw in [*own.values(), *(s.name for s in students),
                                         *(e.stem for e in unknown if e.suffix != ".ipynb")] if _clean_name(raw) == raw)
    raws: dict[str, str] = {}
    for entry in own:
        name = _safe_name(own[entry], taken, reserved)
        raws[name] = own[entry]
        try:
            if entry.is_symlink():
                found.append(Submission(name, entry, None, f"{entry.name} is a link: links are not followed "
                                                           "(it could point at another student's work)"))
            elif entry.is_dir():
                found.append(_from_folder(name, entry, entry, modules, notebook_dir,
                                          unpack=(workdir / "unpacked", limits)))
            elif entry.suffix == ".zip":
                found.append(_from_zip(name, entry, workdir / "unpacked", modules, limits, notebook_dir))
            elif entry.suffix == ".ipynb":
                found.append(_from_notebooks(name, entry, [entry], modules, notebook_dir))
        except Exception as exc:  # noqa: BLE001 - one student's unreadable upload is their row, not the batch's end
            found.append(Submission(name, entry, None, f"cannot read {entry.name}: {type(exc).__name__}: {exc}"[:300]))
    for student in students:
        name = _safe_name(student.name, taken, reserved)
        raws[name] = student.name
        found.append(_from_loose(name, student, workdir / "loose" / name, modules, notebook_dir))
    for entry in (e for e in unknown if e.suffix != ".ipynb"):
        found.append(Submission(_safe_name(entry.stem, taken, reserved), entry, None, (
            f"{entry.name} lies loose at the top of the submissions and names no student: give each student a "
            "folder or a zip of their own (an LMS export's own file names, such as Canvas' "
            "name_12345_678_ex2_lenet.py, are understood)")))
    return sorted(_noted_renames(found, raws), key=lambda sub: sub.name)


def _from_loose(name: str, student: LooseStudent, into: Path, modules: Sequence[str], notebook_dir: Path) -> Submission:
    """A student of a flat export: their files copied into a folder of their own, under their own names."""
    if into.exists():
        shutil.rmtree(into)
    into.mkdir(parents=True)
    first = next(iter(student.files.values()))
    for own, path in student.files.items():
        if path.is_symlink():
            return Submission(name, path, None, f"{path.name} is a link: links are not followed")
        shutil.copyfile(path, into / own)
    sub = _from_folder(name, first, into, modules, notebook_dir)
    return replace(sub, file_notes=student.notes + sub.file_notes)
