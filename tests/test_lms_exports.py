"""Flat LMS exports (Canvas, Blackboard, Moodle) and the folder cases a batch meets in practice:
every student gets a row, the latest upload is graded, nothing else lingers or leaks in."""

from __future__ import annotations

import os
import zipfile

from autograder.submissions import discover

MODULES = ("ex1_shapes.py", "ex2_lenet.py")


def flat(root, files: dict[str, str]):
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def by_name(root, tmp_path):
    return {s.name: s for s in discover(root, MODULES, tmp_path / "work")}


def test_a_canvas_export_groups_files_by_student_and_grades_the_latest_upload(tmp_path):
    root = flat(tmp_path / "canvas", {
        "smithjohn_12345_678901_ex1_shapes.py": "V = 'first'\n",
        "smithjohn_12345_678901_ex2_lenet.py": "N = 1\n",
        "smithjohn_12345_678950_ex1_shapes-1.py": "V = 'resubmitted'\n",
        "leelinda_LATE_34567_678902_ex1_shapes.py": "V = 'late'\n",
        "parkkim_45678_789013_lab.ipynb": "{}",
    })
    found = by_name(root, tmp_path)
    assert sorted(found) == ["leelinda_34567", "parkkim_45678", "smithjohn_12345"], sorted(found)
    smith = found["smithjohn_12345"]
    assert sorted(p.name for p in smith.folder.iterdir()) == ["ex1_shapes.py", "ex2_lenet.py"]
    assert (smith.folder / "ex1_shapes.py").read_text() == "V = 'resubmitted'\n"
    assert any("latest of 2 uploads" in n for n in smith.file_notes), smith.file_notes
    assert any("late" in n for n in found["leelinda_34567"].file_notes)
    assert not found["parkkim_45678"].readable and "lab.ipynb" in found["parkkim_45678"].problem  # "{}" is no notebook


def test_a_blackboard_export_grades_each_students_latest_attempt(tmp_path):
    root = flat(tmp_path / "bb", {
        "Assignment1_jdoe_attempt_2026-11-20-10-11-12_ex1_shapes.py": "V = 0\n",
        "Assignment1_jdoe_attempt_2026-11-20-10-11-12_ex2_lenet.py": "N = 0\n",
        "Assignment1_jdoe_attempt_2026-11-21-09-00-00_ex1_shapes.py": "V = 20\n",
        "Assignment1_asmith_attempt_2026-11-19-23-59-59_ex1_shapes.py": "V = 15\n",
        "Assignment1_asmith_attempt_2026-11-19-23-59-59.txt": "Name: A Smith\n",
    })
    found = by_name(root, tmp_path)
    assert sorted(found) == ["asmith", "jdoe"]
    jdoe = found["jdoe"]
    # the latest attempt as a whole: its ex1 only, not the earlier attempt's ex2
    assert sorted(p.name for p in jdoe.folder.iterdir()) == ["ex1_shapes.py"]
    assert (jdoe.folder / "ex1_shapes.py").read_text() == "V = 20\n"
    assert any("latest of 2 attempts (2026-11-21-09-00-00)" in n for n in jdoe.file_notes), jdoe.file_notes


def test_a_flat_moodle_export_and_plain_prefixes_are_one_student_each(tmp_path):
    root = flat(tmp_path / "moodle", {
        "Jane Doe_123456_assignsubmission_file_ex1_shapes.py": "A = 1\n",
        "Jane Doe_123456_assignsubmission_file_ex2_lenet.py": "B = 1\n",
        "alice_ex2_lenet.py": "C = 1\n",
    })
    found = by_name(root, tmp_path)
    assert sorted(found) == ["Jane_Doe_123456", "alice"]
    assert sorted(p.name for p in found["Jane_Doe_123456"].folder.iterdir()) == list(MODULES)


def test_moodle_folders_are_named_after_the_student_without_moodles_suffix(tmp_path):
    root = tmp_path / "moodle"
    for folder in ("Jane Doe_123456_assignsubmission_file_", "Li Lei_654321_assignsubmission_onlinetext_"):
        flat(root / folder, {"ex1_shapes.py": "A = 1\n"})
    found = by_name(root, tmp_path)
    assert sorted(found) == ["Jane_Doe_123456", "Li_Lei_654321"]
    assert found["Jane_Doe_123456"].readable


def test_a_loose_file_that_names_no_student_is_a_row_with_a_reason(tmp_path):
    root = flat(tmp_path / "subs", {"ex1_shapes.py": "A = 1\n", "helper.py": "B = 1\n"})
    (root / "bob").mkdir()
    (root / "bob" / "ex1_shapes.py").write_text("A = 2\n")
    found = by_name(root, tmp_path)
    assert found["bob"].readable
    for name in ("ex1_shapes", "helper"):
        assert not found[name].readable and "names no student" in found[name].problem


def test_a_new_download_leaves_nothing_of_the_old_one(tmp_path):
    def export(files):
        path = tmp_path / "export.zip"
        with zipfile.ZipFile(path, "w") as zf:
            for name, text in files.items():
                zf.writestr(name, text)
        return path

    work = tmp_path / "work"
    discover(export({"jane/old/ex1_shapes.py": "OLD = 1\n", "omar/ex1_shapes.py": "O = 1\n"}), MODULES, work)
    found = {s.name: s for s in discover(export({"jane/ex1_shapes.py": "NEW = 1\n"}), MODULES, work)}
    assert sorted(found) == ["jane"]  # omar's submission was withdrawn
    assert (found["jane"].folder / "ex1_shapes.py").read_text() == "NEW = 1\n"


def test_links_are_never_followed(tmp_path):
    other = flat(tmp_path / "other", {"ex1_shapes.py": "THEIRS = 1\n"})
    root = tmp_path / "subs"
    (root / "mallory").mkdir(parents=True)
    os.symlink(other, root / "mallory" / "src")
    os.symlink(other / "ex1_shapes.py", root / "mallory" / "ex2_lenet.py")
    os.symlink(other, root / "trudy")
    found = by_name(root, tmp_path)
    assert not found["mallory"].readable and "links are not followed: ex2_lenet.py, src" in found["mallory"].problem
    assert not found["trudy"].readable and "link" in found["trudy"].problem


def test_two_copies_of_the_modules_are_noted(tmp_path):
    root = tmp_path / "subs"
    flat(root / "frank", {"ex1_shapes.py": "A = 1\n"})
    flat(root / "frank" / "backup", {"ex1_shapes.py": "A = 0\n"})
    frank = by_name(root, tmp_path)["frank"]
    assert frank.folder == root / "frank"
    assert any("left aside in backup/" in n for n in frank.file_notes), frank.file_notes


def test_a_zip_that_cannot_be_unpacked_is_its_students_row_only(tmp_path):
    root = tmp_path / "subs"
    flat(root / "alice", {"ex1_shapes.py": "A = 1\n"})
    with zipfile.ZipFile(root / "bob.zip", "w") as zf:  # a file and a folder of the same name
        zf.writestr("sub/ex1_shapes.py", "B = 1\n")
        zf.writestr("sub/ex1_shapes.py/inner.py", "B = 2\n")
    found = by_name(root, tmp_path)
    assert found["alice"].readable
    assert not found["bob"].readable and "cannot unpack" in found["bob"].problem, found["bob"].problem


def test_a_module_saved_under_a_near_name_is_found_and_its_edits_reach_the_cache_key(tmp_path, repo, manifest):
    from autograder.batch import BatchOptions, cache_key

    root = flat(tmp_path / "subs", {})
    flat(root / "erin", {"EX1_Shapes.py": "A = 1\n"})
    erin = by_name(root, tmp_path)["erin"]
    assert erin.readable and erin.folder == root / "erin"  # graded as ex1_shapes.py, as grade check does
    options = BatchOptions(tests=repo / "grading_tests", exercises=("ex1",))
    before = cache_key(erin, manifest, options)
    (root / "erin" / "EX1_Shapes.py").write_text("A = 2\n")
    assert cache_key(erin, manifest, options) != before


def test_a_blackboard_export_is_graded_with_the_attempt_named_in_the_row(tmp_path, repo, manifest):
    from autograder.batch import BatchOptions, RowStatus, grade_batch

    solution = (repo / "solutions" / "ex1_shapes.py").read_text()
    export = tmp_path / "gradebook_Assignment1.zip"
    with zipfile.ZipFile(export, "w") as zf:
        zf.writestr("Assignment1_jdoe_attempt_2026-11-20-10-11-12_ex1_shapes.py", "raise SystemExit\n")
        zf.writestr("Assignment1_jdoe_attempt_2026-11-21-09-00-00_ex1_shapes.py", solution)
        zf.writestr("Assignment1_jdoe_attempt_2026-11-21-09-00-00.txt", "Name: J Doe\n")
        zf.writestr("loose_notes.py", "X = 1\n")
    rows = {r.student: r for r in grade_batch(export, tmp_path / "out", manifest,
                                              BatchOptions(tests=repo / "grading_tests", exercises=("ex1",)))}
    assert sorted(rows) == ["jdoe", "loose_notes"]
    assert rows["jdoe"].status is RowStatus.GRADED and rows["jdoe"].total == 20, rows["jdoe"].reason
    assert "graded the latest of 2 attempts (2026-11-21-09-00-00)" in rows["jdoe"].reason
    assert "latest of 2 attempts" in (tmp_path / "out" / "feedback" / "jdoe.md").read_text()
    assert rows["loose_notes"].status is RowStatus.UNREADABLE and "names no student" in rows["loose_notes"].reason
    unread = (tmp_path / "out" / "feedback" / "loose_notes.md").read_text()  # they hear why, too
    assert "could not be read" in unread and "names no student" in unread


def test_a_folder_with_two_zips_asks_which_one_and_the_output_folder_is_no_student(tmp_path):
    root = tmp_path / "subs"
    (root / "jane").mkdir(parents=True)
    for name in ("lab.zip", "lab_final.zip"):
        with zipfile.ZipFile(root / "jane" / name, "w") as zf:
            zf.writestr("ex1_shapes.py", "A = 1\n")
    (root / "grading" / "results").mkdir(parents=True)  # the batch's own --out, inside the submissions
    found = {s.name: s for s in discover(root, MODULES, tmp_path / "work", exclude=[root / "grading"])}
    assert sorted(found) == ["jane"]
    assert "2 zips (lab.zip, lab_final.zip)" in found["jane"].problem
