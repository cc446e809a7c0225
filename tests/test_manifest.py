from __future__ import annotations

from pathlib import Path

import pytest

from autograder.manifest import ManifestError, find_manifest, load_manifest

GOOD = """
[assignment]
name = "a"
title = "A"

[limits]
call_seconds = 5

[exercises.ex1]
module = "ex1_shapes.py"
points = 20
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "assignment.toml"
    path.write_text(text)
    return path


def test_manifest_loads_exercises_and_limits(manifest):
    assert manifest.names == ("ex1", "ex2", "ex3", "ex4", "ex5", "ex6")
    ex2 = manifest.exercise("ex2")
    assert ex2.module == "ex2_lenet.py" and ex2.module_name == "ex2_lenet" and ex2.points == 20
    assert ex2.limits.call_seconds == 20 and ex2.limits.memory_mb == 4096
    assert manifest.solutions.name == "solutions" and manifest.hidden_tests.name == "grading_tests"


def test_manifest_exercise_limits_override_defaults(tmp_path):
    m = load_manifest(write(tmp_path, GOOD + "test_seconds = 7\n"))
    assert m.exercise("ex1").limits.test_seconds == 7
    assert m.exercise("ex1").limits.call_seconds == 5  # from [limits]


@pytest.mark.parametrize("text, key", [
    (GOOD.replace("points = 20", 'points = "ten"'), "exercises.ex1.points"),
    (GOOD.replace("points = 20", "points = -1"), "exercises.ex1.points"),
    (GOOD.replace("points = 20", ""), "exercises.ex1.points"),
    (GOOD.replace('module = "ex1_shapes.py"', ""), "exercises.ex1.module"),
    (GOOD.replace('module = "ex1_shapes.py"', 'module = "../x.py"'), "exercises.ex1.module"),
    (GOOD.replace("call_seconds = 5", "call_seconds = 0"), "limits.call_seconds"),
    (GOOD.replace("call_seconds = 5", "call_secs = 5"), "limits.call_secs"),
    (GOOD + "colour = 1\n", "exercises.ex1.colour"),
    (GOOD.replace("[assignment]", "[asignment]"), "asignment"),
    (GOOD.replace("[exercises.ex1]", "[exercises.1x]"), "exercises.1x"),
    (GOOD + '[exercises.ex2]\nmodule = "ex1_shapes.py"\npoints = 1\n', "exercises.ex2.module"),
    ("[assignment]\nname='a'\n", "exercises"),
    (GOOD.replace("call_seconds = 5", "call_seconds = 500"), "limits.call_seconds"),  # > test_seconds
    (GOOD + "memory_mb = 6144.5\n", "exercises.ex1.memory_mb"),
])
def test_manifest_error_names_file_and_key(tmp_path, text, key):
    path = write(tmp_path, text)
    with pytest.raises(ManifestError) as info:
        load_manifest(path)
    assert str(path) in str(info.value) and key in str(info.value), str(info.value)


def test_manifest_invalid_toml_names_file(tmp_path):
    path = write(tmp_path, "[assignment\n")
    with pytest.raises(ManifestError, match="not valid TOML") as info:
        load_manifest(path)
    assert str(path) in str(info.value)


def test_manifest_missing_file_is_reported(tmp_path):
    with pytest.raises(ManifestError, match="not found"):
        load_manifest(tmp_path / "nope.toml")


def test_find_manifest_walks_up_from_the_tests_folder(repo):
    assert find_manifest(repo / "grading_tests") == repo / "assignments" / "assignment.toml"
    assert find_manifest(repo / "student_template" / "tests") == repo / "student_template" / "assignment.toml"


def test_find_manifest_fails_with_a_hint(tmp_path):
    with pytest.raises(ManifestError, match="--manifest"):
        find_manifest(tmp_path)
