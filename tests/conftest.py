"""Fixtures for the engine's own tests (not the grading suites, which live in grading_tests/)."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from autograder.manifest import Manifest, load_manifest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def manifest() -> Manifest:
    return load_manifest(REPO / "assignments" / "assignment.toml")


@pytest.fixture
def fast_manifest(tmp_path: Path) -> Manifest:
    """The real manifest with short time limits (for submissions that hang)."""
    text = (REPO / "assignments" / "assignment.toml").read_text()
    text = text.replace('= "../', f'= "{REPO}/').replace("call_seconds = 20", "call_seconds = 2")
    text = text.replace("test_seconds = 60", "test_seconds = 8")
    path = tmp_path / "fast" / "assignment.toml"
    path.parent.mkdir()
    path.write_text(text)
    return load_manifest(path)


@pytest.fixture
def make_submission(tmp_path: Path):
    """``make_submission(name, {"ex2_lenet.py": source, ...}, base="solutions")``: a submission folder
    holding the base folder's modules with some files replaced or added."""

    def make(name: str, files: dict[str, str], base: str | None = "solutions") -> Path:
        folder = tmp_path / name
        folder.mkdir()
        if base is not None:
            for src in (REPO / base).glob("*.py"):
                shutil.copyfile(src, folder / src.name)
        for file_name, source in files.items():
            (folder / file_name).parent.mkdir(parents=True, exist_ok=True)
            (folder / file_name).write_text(textwrap.dedent(source))
        return folder

    return make
