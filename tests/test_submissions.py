"""Finding submissions in a batch, and unpacking untrusted zips safely."""

from __future__ import annotations

import io
import stat
import zipfile

import pytest

from autograder.submissions import SubmissionError, ZipLimits, discover, safe_extract

MODULES = ("ex1_shapes.py", "ex2_lenet.py")


def write_zip(path, files: dict[str, bytes], links: dict[str, str] = {}):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        for name, target in links.items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return path


def test_folders_zips_and_nested_modules_are_found(tmp_path):
    root = tmp_path / "subs"
    (root / "alice").mkdir(parents=True)
    (root / "alice" / "ex1_shapes.py").write_text("A = 1\n")
    (root / "bob" / "ex-cnn-bob").mkdir(parents=True)
    (root / "bob" / "ex-cnn-bob" / "ex2_lenet.py").write_text("B = 1\n")
    (root / "carol").mkdir()
    (root / "carol" / "notes.txt").write_text("nothing here")
    write_zip(root / "dave.zip", {"ex-cnn-dave/ex1_shapes.py": b"D = 1\n", "ex-cnn-dave/data.bin": b"x" * 100})
    found = {s.name: s for s in discover(root, MODULES, tmp_path / "work")}
    assert sorted(found) == ["alice", "bob", "carol", "dave"]
    assert found["alice"].folder == root / "alice"
    assert found["bob"].folder == root / "bob" / "ex-cnn-bob"
    assert not found["carol"].readable and "no exercise module" in found["carol"].problem
    assert (found["dave"].folder / "ex1_shapes.py").read_text() == "D = 1\n"
    assert not (found["dave"].folder / "data.bin").exists()  # only Python files are unpacked


@pytest.mark.parametrize("files, links, reason", [
    ({"../../escape.py": b"x"}, {}, "outside its folder"),
    ({"/etc/evil.py": b"x"}, {}, "outside its folder"),
    ({}, {"ex1_shapes.py": "/etc/passwd"}, "link"),
    ({"ex1_shapes.py": b"\0" * (20 * 2**20)}, {}, "unpacks to"),
    ({"ex1_shapes.py": b"\0" * (4 * 2**20)}, {}, "zip bomb"),
])
def test_hostile_zips_are_refused_with_a_reason(tmp_path, files, links, reason):
    archive = write_zip(tmp_path / "evil.zip", files, links)
    with pytest.raises(SubmissionError, match=reason):
        safe_extract(archive, tmp_path / "out", ZipLimits(max_file_bytes=16 * 2**20))
    assert not (tmp_path / "escape.py").exists()


def test_an_unreadable_zip_becomes_a_row_with_a_reason(tmp_path):
    root = tmp_path / "subs"
    root.mkdir()
    (root / "hank.zip").write_bytes(b"this is not a zip")
    write_zip(root / "ivan.zip", {"../x.py": b"x"})
    found = {s.name: s for s in discover(root, MODULES, tmp_path / "work")}
    assert "not a readable zip" in found["hank"].problem and "outside its folder" in found["ivan"].problem


def test_an_lms_export_of_zips_is_one_submission_per_zip(tmp_path):
    inner = {}
    for student in ("alice", "bob"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as zf:
            zf.writestr(f"{student}/ex2_lenet.py", f"NAME = {student!r}\n")
        inner[f"export/{student}.zip"] = buffer.getvalue()
    export = write_zip(tmp_path / "export.zip", inner)
    found = discover(export, MODULES, tmp_path / "work")
    assert [s.name for s in found] == ["alice", "bob"]
    assert "NAME = 'bob'" in (found[1].folder / "ex2_lenet.py").read_text()


def test_student_names_are_safe_and_unique(tmp_path):
    root = tmp_path / "subs"
    for raw in ("al ice", "al_ice", "we!rd$", ".hidden", "李雷", "韩梅梅", "José García (late)"):
        (root / raw).mkdir(parents=True)
        (root / raw / "ex1_shapes.py").write_text("")
    found = {s.name: s for s in discover(root, MODULES, tmp_path / "work")}
    assert sorted(found) == sorted(["al_ice", "al_ice-2", "we_rd", "李雷", "韩梅梅", "José_García_late"])
    # the folder named al_ice keeps its name (although "al ice" sorts first); the other is told apart
    assert found["al_ice"].source.name == "al_ice" and found["al_ice-2"].source.name == "al ice"
    assert any("'al ice' cleans up to al_ice, the name of another submission" in n for n in found["al_ice-2"].file_notes)
    assert not any("cleans up" in n for n in found["al_ice"].file_notes + found["we_rd"].file_notes)


def test_a_student_folder_holding_only_their_zip_is_that_zip(tmp_path):
    # Moodle's "download all": one folder per student, holding the file the student uploaded
    root = tmp_path / "subs"
    folder = root / "Erik Larsen_4711_assignsubmission_file_"
    folder.mkdir(parents=True)
    write_zip(folder / "lab3.zip", {"lab3/ex2_lenet.py": b"NAME = 'erik'\n"})
    (submission,) = discover(root, MODULES, tmp_path / "work")
    assert submission.readable and submission.name == "Erik_Larsen_4711"  # without Moodle's suffix
    assert "NAME = 'erik'" in (submission.folder / "ex2_lenet.py").read_text()
    two = root / "two zips"
    two.mkdir()
    for n in ("a", "b"):
        write_zip(two / f"{n}.zip", {"ex2_lenet.py": b""})
    (_, unclear) = discover(root, MODULES, tmp_path / "work2")
    assert unclear.folder is None and "no exercise module" in unclear.problem  # which one? not guessed
